// The outbound relay inside ternd: owns the queue, the resolver, the engine; wires the relay
// seam (Runtime::enqueue_remote), SIGUSR1 (`ternctl queue flush`) and shutdown.
#pragma once

#include <memory>

#include "common/result.h"
#include "daemon/runtime.h"

namespace tern::daemon {

class RelayService;

// Call on the loop thread after rt.accounts and rt.store are set, before loop.run(). Keep the
// returned object alive until after the loop stopped and the workers were shut down (it is
// destroyed on the loop thread, before the Loop). Errors name the file and the problem.
Result<std::shared_ptr<RelayService>> start_relay_service(Runtime& rt);

}  // namespace tern::daemon
