// The worker side of the POP3 service: see daemon/pop3/maildrop_reader.h.
#include "daemon/pop3/maildrop_reader.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "common/log.h"
#include "daemon/pop3/maildrops.h"
#include "net/net.h"
#include "store/store.h"

namespace tern::daemon {

namespace {

constexpr const char* kInbox = "INBOX";  // RFC 1939 §1: the maildrop is the user's INBOX

// --- reading message files on workers ------------------------------------------------------
//
// The store lists the messages' files (Store::message_files, one query for many messages) and
// reads them by those handles (Store::read_message_into) straight into buffers the connection
// reuses, so a download of many messages allocates (and page-faults, and unmaps) almost
// nothing per message.

enum class FileRead { ok, missing, error };

// Reads message `uid` into buf[offset..] by its listed `path` (empty: by uid). A file renamed
// by a flag change (our own \Seen flush, or IMAP) is found again by the store; a message no
// longer listed was expunged meanwhile (IMAP) and is reported missing.
FileRead read_message_file(store::Store& store, const std::string& user, uint32_t uid,
                           std::string path, std::string& buf, size_t offset) {
  // room_to_grow: what to_wire_body adds (stuffing, CRs, terminator) needs no reallocation.
  auto read = store.read_message_into(user, kInbox, store::Store::MessageFile{uid, 0, std::move(path)},
                                      buf, offset, /*room_to_grow=*/true);
  if (!read) {
    spdlog::warn("pop3 read user={} uid={} error={}", user, uid, read.error().message);
    return FileRead::error;
  }
  return *read ? FileRead::ok : FileRead::missing;
}

// The wire sizes of the messages not in the size cache (OpenMaildrop): every file read once.
// Work-sharing, so a login with thousands of new messages uses the idle cores: the
// OpenMaildrop job and up to kScanHelpers helper jobs on the pool take files from one atomic
// counter. The job never waits for a helper that has not started (it closes the scan after
// its own last file and waits only for helpers still inside it), so a pool busy elsewhere
// delays nothing and can never deadlock it.
struct SizeScan {
  store::Store* store = nullptr;
  std::string user;
  std::vector<store::Store::MessageFile> files;
  std::vector<uint64_t> sizes;   // by index in files
  std::vector<FileRead> result;  // by index in files
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::condition_variable idle;
  int active = 0;       // helpers inside scan()
  bool closed = false;  // no helper may start any more
};

constexpr size_t kScanHelpers = 3;
constexpr size_t kScanHelperMinFiles = 64;  // fewer files: not worth a hand-off

void scan_sizes(SizeScan& s) {
  std::string scratch;  // one buffer for every file this thread reads
  for (size_t i; (i = s.next.fetch_add(1, std::memory_order_relaxed)) < s.files.size();) {
    auto& f = s.files[i];
    s.result[i] = read_message_file(*s.store, s.user, f.uid, std::move(f.path), scratch, 0);
    // RFC 1939 §11: sizes as RETR sends them (CRLF), so count from the bytes themselves.
    if (s.result[i] == FileRead::ok) s.sizes[i] = pop3d::wire_size(scratch);
  }
}

void scan_sizes_shared(net::WorkerPool& workers, const std::shared_ptr<SizeScan>& scan) {
  size_t helpers = 0;
  if (scan->files.size() >= kScanHelperMinFiles) {
    const unsigned cores = std::thread::hardware_concurrency();
    helpers = std::min<size_t>(kScanHelpers, cores > 1 ? cores - 1 : 0);
  }
  for (size_t h = 0; h < helpers; ++h) {
    (void)workers.submit([scan] {
      {
        std::lock_guard lock(scan->mu);
        if (scan->closed) return;
        ++scan->active;
      }
      scan_sizes(*scan);
      std::lock_guard lock(scan->mu);
      if (--scan->active == 0) scan->idle.notify_all();
    });
  }
  scan_sizes(*scan);
  std::unique_lock lock(scan->mu);
  scan->closed = true;
  scan->idle.wait(lock, [&] { return scan->active == 0; });
}

}  // namespace

// Worker side of OpenMaildrop: lock, list. Releases the lock again on failure (pop3d.h: a
// failed OpenMaildrop holds nothing, and the session owes no Release). Sizes come along only
// when every one is in the cache; otherwise the session asks for them (MeasureSizes) when a
// command shows them, so a login costs one index query whatever the maildrop holds.
pop3d::MaildropResult open_maildrop(store::Store& store, Pop3Maildrops& drops, MaildropHold& hold,
                                    const std::string& user) {
  pop3d::MaildropResult out;
  // RFC 1939 §8 / RFC 2449 §8.1.2: one POP3 session per maildrop; the second gets [IN-USE].
  if (!drops.acquire(user)) {
    out.outcome = pop3d::MaildropResult::Outcome::in_use;
    return out;
  }
  auto fail = [&](const std::string& why) {
    drops.release(user);
    spdlog::warn("pop3 maildrop user={} error={}", user, why);
    out.outcome = pop3d::MaildropResult::Outcome::temporary_failure;
    out.messages.clear();
    return out;
  };
  // RFC 1939 §1: the maildrop is the INBOX as it is now; uid order is arrival order.
  auto listing = store.message_files(user, kInbox);
  if (!listing) return fail(listing.error().message);
  const uint32_t uidvalidity = listing->uidvalidity;
  Pop3Maildrops::SizeMap cached = drops.take_sizes(user, uidvalidity);
  // The cache keeps only what is in the maildrop now.
  Pop3Maildrops::SizeMap current;
  current.reserve(listing->files.size());
  out.messages.reserve(listing->files.size());
  out.sizes_known = true;
  for (const auto& f : listing->files) {
    uint64_t wire = 0;
    if (auto it = cached.find(f.uid); it != cached.end()) {
      wire = it->second;
      current.emplace(f.uid, wire);
    } else {
      out.sizes_known = false;
    }
    // RFC 1939 §7: the unique-id, from UIDVALIDITY and UID (pop3.uidl_format), never reused.
    out.messages.push_back(pop3d::MessageInfo{f.uid, wire, drops.uidl().format(uidvalidity, f.uid)});
  }
  drops.put_sizes(user, uidvalidity, std::move(current));
  hold.user = user;
  out.outcome = pop3d::MaildropResult::Outcome::ok;
  return out;
}

// Worker side of MeasureSizes: every message's wire size, from the cache or its file.
pop3d::SizesResult measure_sizes(store::Store& store, net::WorkerPool& workers,
                                 Pop3Maildrops& drops, const std::string& user,
                                 const std::vector<pop3d::Uid>& uids) {
  pop3d::SizesResult out;
  std::vector<uint32_t> u32(uids.begin(), uids.end());
  auto listing = store.message_files(user, kInbox, u32);
  if (!listing) {
    spdlog::warn("pop3 sizes user={} error={}", user, listing.error().message);
    return out;
  }
  const uint32_t uidvalidity = listing->uidvalidity;
  Pop3Maildrops::SizeMap sizes = drops.take_sizes(user, uidvalidity);
  // A message expunged since login (IMAP) has no file to measure: its indexed size stands in
  // (RETR of it answers "-ERR ... no longer available" anyway).
  std::unordered_map<uint32_t, uint64_t> indexed;
  auto scan = std::make_shared<SizeScan>();
  scan->store = &store;
  scan->user = user;
  for (auto& f : listing->files) {
    indexed.emplace(f.uid, f.size);
    if (sizes.count(f.uid) == 0) scan->files.push_back(std::move(f));
  }
  scan->sizes.resize(scan->files.size());
  scan->result.resize(scan->files.size(), FileRead::error);
  scan_sizes_shared(workers, scan);
  bool ok = true;
  for (size_t i = 0; i < scan->files.size(); ++i) {
    if (scan->result[i] == FileRead::ok) sizes.emplace(scan->files[i].uid, scan->sizes[i]);
    else if (scan->result[i] == FileRead::error) ok = false;
  }
  if (ok) {
    out.sizes.reserve(uids.size());
    for (pop3d::Uid uid : uids) {
      auto it = sizes.find(static_cast<uint32_t>(uid));
      if (it != sizes.end()) {
        out.sizes.push_back(it->second);
      } else {
        auto ix = indexed.find(static_cast<uint32_t>(uid));
        out.sizes.push_back(ix != indexed.end() ? ix->second : 0);
      }
    }
    out.ok = true;
  } else {
    spdlog::warn("pop3 sizes user={} error=cannot read every message file", user);
  }
  drops.put_sizes(user, uidvalidity, std::move(sizes));
  return out;
}

// Worker side of Retrieve (and of the read-ahead): the message read into `buf` and turned
// into its wire body (pop3d::to_wire_body) here, off the loop thread.
pop3d::RetrieveResult read_retrieve(store::Store* store, const std::string& user, pop3d::Uid uid,
                                    std::string path, std::string buf) {
  pop3d::RetrieveResult rr;
  rr.bytes = std::move(buf);  // failed or not, the buffer goes back with the result
  if (!store) return rr;
  FileRead r = read_message_file(*store, user, static_cast<uint32_t>(uid), std::move(path),
                                 rr.bytes, kHeadroom);
  if (r == FileRead::ok) {
    rr.outcome = pop3d::RetrieveResult::Outcome::ok;
    rr.octets = pop3d::to_wire_body(rr.bytes, kHeadroom);
    rr.wire = true;
    rr.headroom = kHeadroom;
  } else if (r == FileRead::missing) {
    rr.outcome = pop3d::RetrieveResult::Outcome::gone;  // expunged by IMAP meanwhile
  } else {
    spdlog::warn("pop3 retr user={} uid={} error=cannot read the message file", user, uid);
  }
  return rr;
}

// Reads several messages for the read-ahead: their paths in one query, then each file into
// one of `bufs` (reused buffers; new ones when there are too few).
std::vector<pop3d::RetrieveResult> read_messages(store::Store* store, const std::string& user,
                                                 const std::vector<pop3d::Uid>& uids,
                                                 std::vector<std::string> bufs) {
  std::vector<pop3d::RetrieveResult> out;
  out.reserve(uids.size());
  std::vector<store::Store::MessageFile> files;
  if (store) {
    std::vector<uint32_t> u32(uids.begin(), uids.end());
    // On failure every path stays empty and each read asks for its own (and reports).
    if (auto listed = store->message_files(user, kInbox, u32)) files = std::move(listed->files);
  }
  for (size_t i = 0; i < uids.size(); ++i) {
    auto it = std::lower_bound(files.begin(), files.end(), uids[i],
                               [](const auto& f, pop3d::Uid uid) { return f.uid < uid; });
    std::string path = it != files.end() && it->uid == uids[i] ? std::move(it->path) : std::string();
    std::string buf = i < bufs.size() ? std::move(bufs[i]) : std::string();
    out.push_back(read_retrieve(store, user, uids[i], std::move(path), std::move(buf)));
  }
  return out;
}

}  // namespace tern::daemon
