#include "common/thread_priority.h"

#include <sys/resource.h>
#include <unistd.h>

namespace tern {

void run_at_background_priority() {
  // On Linux a thread id names one thread for setpriority (threads have their own nice value).
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
}

}  // namespace tern
