// Store: the index's WAL made durable outside the store's lock (WalSync in store_impl.h).
#include "common/log.h"
#include "store/store_impl.h"

namespace tern::store::detail {

uint64_t WalSync::committed() {
  std::lock_guard lock(mu_);
  return ++committed_;
}

std::optional<Error> WalSync::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

Status WalSync::wait_durable(uint64_t ticket) {
  std::unique_lock lock(mu_);
  for (;;) {
    if (ticket <= durable_) return {};
    if (failure_) return *failure_;
    if (syncing_) {
      // The running sync may have started before this commit was written: wait for it, then
      // look again (it covered this ticket, or the next one will).
      cv_.wait(lock);
      continue;
    }
    syncing_ = true;
    const uint64_t target = committed_;  // every commit made so far is in the file
    lock.unlock();
    Status s = fops_->sync_data(path_);
    lock.lock();
    syncing_ = false;
    if (s.ok()) {
      durable_ = std::max(durable_, target);
    } else {
      spdlog::critical("store: the index's WAL could not be synced; deliveries, APPEND and EXPUNGE "
                       "are refused until ternd is restarted: {}",
                       s.error().message);
      failure_ = make_error(Errc::temporary, "index WAL sync failed (restart needed): " + s.error().message);
    }
    cv_.notify_all();
  }
}

}  // namespace tern::store::detail
