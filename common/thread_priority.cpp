#include "common/thread_priority.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

namespace tern {

void run_at_background_priority() {
  // SCHED_IDLE (Linux): the thread runs only on a CPU that has nothing else to run, and the
  // scheduler counts a CPU running only such threads as idle when it places a woken thread,
  // so a client's command never waits behind it (at nice 19 a woken thread could still wait
  // out the niced one's time slice).
  sched_param param{};
  (void)::pthread_setschedparam(::pthread_self(), SCHED_IDLE, &param);
  // And nice 19, should SCHED_IDLE be refused (a container's seccomp policy, say).
  // On Linux a thread id names one thread for setpriority (threads have their own nice value).
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
}

}  // namespace tern
