// Scheduling priority for threads that keep derived data (full-text index, Dovecot's files):
// their work can wait, a client's command cannot.
#pragma once

namespace tern {

// Lowers the calling thread's CPU priority: SCHED_IDLE, and nice 19 (Linux: per thread).
// Best effort: a failure leaves the thread as it was. Never raised again: only root could.
void run_at_background_priority();

}  // namespace tern
