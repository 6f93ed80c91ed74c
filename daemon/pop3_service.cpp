// The POP3 service: net::Connection events <-> pop3d::Session, the session's actions run on
// rt.workers against auth::Authenticator and store::Store. See daemon/pop3_service.h.
#include "daemon/pop3_service.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "auth/auth.h"
#include "common/log.h"
#include "daemon/services.h"
#include "pop3d/pop3d.h"
#include "store/store.h"

namespace tern::daemon {

// --- Pop3Maildrops -------------------------------------------------------------------------

bool Pop3Maildrops::acquire(const std::string& user) {
  std::lock_guard lock(mu_);
  return in_use_.insert(user).second;
}

void Pop3Maildrops::release(const std::string& user) {
  std::lock_guard lock(mu_);
  in_use_.erase(user);
}

bool Pop3Maildrops::held(const std::string& user) const {
  std::lock_guard lock(mu_);
  return in_use_.count(user) != 0;
}

Pop3Maildrops::SizeMap Pop3Maildrops::take_sizes(const std::string& user, uint32_t uidvalidity) {
  std::lock_guard lock(mu_);
  auto it = sizes_.find(user);
  if (it == sizes_.end()) return {};
  SizeMap out;
  // A new UIDVALIDITY means UIDs may name other messages now: nothing cached is valid.
  if (it->second.uidvalidity == uidvalidity) out = std::move(it->second.sizes);
  sizes_.erase(it);
  return out;
}

void Pop3Maildrops::put_sizes(const std::string& user, uint32_t uidvalidity, SizeMap sizes) {
  std::lock_guard lock(mu_);
  // Bounded memory: past the limit start over (sizes are recomputed from the files on need).
  if (sizes_.size() >= kMaxCachedUsers && sizes_.count(user) == 0) sizes_.clear();
  sizes_[user] = CacheEntry{uidvalidity, std::move(sizes)};
}

namespace {

constexpr const char* kInbox = "INBOX";  // RFC 1939 §1: the maildrop is the user's INBOX

// --- ActionQueue: one per connection, runs jobs on the workers strictly one after another ---
//
// A job runs on a worker and returns a continuation for the loop thread (possibly empty).
// Jobs hold the queue by shared_ptr, so it lives until drained even when the handler that
// filled it is gone: that is what lets a dropped connection's Release run after the Commit
// or OpenMaildrop in front of it.
class ActionQueue : public std::enable_shared_from_this<ActionQueue> {
 public:
  using Job = std::function<std::function<void()>()>;

  explicit ActionQueue(net::WorkerPool& workers) : workers_(workers) {}

  void push(Job job) {
    jobs_.push_back(std::move(job));
    pump();
  }

  // Nothing queued or running (loop thread).
  bool idle() const { return !running_ && jobs_.empty(); }

  // The user whose IN-USE lock this connection holds. Written and read only by jobs, which
  // never overlap (the worker pool's hand-off orders them).
  std::string locked_user;

 private:
  void pump() {
    if (running_ || jobs_.empty()) return;
    running_ = true;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    auto cont = std::make_shared<std::function<void()>>();
    auto self = shared_from_this();
    bool submitted = workers_.submit([job = std::move(job), cont] { *cont = job(); },
                                     [self, cont] {
                                       self->running_ = false;
                                       if (*cont) (*cont)();
                                       self->pump();
                                     });
    if (!submitted) {
      // The pool is shutting down (ternd is exiting): nothing more can run.
      running_ = false;
      jobs_.clear();
    }
  }

  net::WorkerPool& workers_;
  std::deque<Job> jobs_;
  bool running_ = false;
};

// Like net::if_alive, from a weak_ptr (jobs must not own the handler).
template <class H, class F>
std::function<void()> alive(std::weak_ptr<H> weak, F f) {
  return [weak = std::move(weak), f = std::move(f)]() mutable {
    if (auto strong = weak.lock()) f(*strong);
  };
}

pop3d::AuthResult to_auth_result(const auth::LoginResult& r) {
  pop3d::AuthResult out;
  switch (r.outcome) {
    case auth::LoginResult::Outcome::ok:
      out.outcome = pop3d::AuthResult::Outcome::ok;
      out.canonical_user = r.user;
      break;
    // A disabled account is reported like bad credentials: the client learns nothing more.
    case auth::LoginResult::Outcome::bad_credentials:
    case auth::LoginResult::Outcome::disabled:
      out.outcome = pop3d::AuthResult::Outcome::invalid_credentials;
      break;
    case auth::LoginResult::Outcome::locked_out:
      out.outcome = pop3d::AuthResult::Outcome::locked_out;
      break;
    case auth::LoginResult::Outcome::unavailable:
    case auth::LoginResult::Outcome::too_many_connections:
      out.outcome = pop3d::AuthResult::Outcome::temporary_failure;
      break;
  }
  return out;
}

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

// Worker side of OpenMaildrop: lock, list. Releases the lock again on failure (pop3d.h: a
// failed OpenMaildrop holds nothing, and the session owes no Release). Sizes come along only
// when every one is in the cache; otherwise the session asks for them (MeasureSizes) when a
// command shows them, so a login costs one index query whatever the maildrop holds.
pop3d::MaildropResult open_maildrop(store::Store& store, Pop3Maildrops& drops, ActionQueue& q,
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
  const std::string uidl_prefix = std::to_string(uidvalidity) + ".";
  for (const auto& f : listing->files) {
    uint64_t wire = 0;
    if (auto it = cached.find(f.uid); it != cached.end()) {
      wire = it->second;
      current.emplace(f.uid, wire);
    } else {
      out.sizes_known = false;
    }
    // RFC 1939 §7: the unique-id, "<uidvalidity>.<uid>" (pop3d.h), never reused.
    out.messages.push_back(pop3d::MessageInfo{f.uid, wire, uidl_prefix + std::to_string(f.uid)});
  }
  drops.put_sizes(user, uidvalidity, std::move(current));
  q.locked_user = user;
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

// Room left in front of each body read for RETR: the session writes the status line
// ("+OK <20 digits> octets\r\n") there, so status and body leave in one write.
constexpr size_t kHeadroom = 32;

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
std::vector<pop3d::RetrieveResult> read_batch_on_worker(store::Store* store, const std::string& user,
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

// --- the connection handler -----------------------------------------------------------------

class Pop3Handler final : public net::ConnectionHandler,
                          public std::enable_shared_from_this<Pop3Handler> {
 public:
  Pop3Handler(Runtime& rt, std::shared_ptr<Pop3Maildrops> drops, bool implicit_tls)
      : rt_(rt),
        drops_(std::move(drops)),
        implicit_tls_(implicit_tls),
        queue_(std::make_shared<ActionQueue>(rt.workers)),
        seen_queue_(std::make_shared<ActionQueue>(rt.workers)),
        delay_timer_(rt.loop),
        seen_timer_(rt.loop) {}

  void on_open(net::Connection& conn) override {
    conn_ = &conn;
    const net::ConnectionInfo& info = conn.info();
    pop3d::SessionSettings s;
    s.hostname = rt_.config.hostname;
    s.implicit_tls = implicit_tls_;
    s.allow_plaintext_auth = rt_.config.auth.allow_plaintext_without_tls;
    // RFC 2595 §4: offer STLS only when a certificate exists and TLS is not already on.
    s.stls_available = rt_.tls != nullptr && !implicit_tls_ && info.tls_available;
    s.max_errors = rt_.config.pop3.max_errors;
    ip_ = info.peer_ip;
    session_.emplace(s, pop3d::PeerInfo{info.peer_ip, info.tls});
    apply(session_->greet());
  }

  void on_data(std::string_view bytes) override {
    if (!session_) return;
    apply(session_->feed(bytes));
  }

  void on_tls_ready() override {
    if (!session_) return;
    apply(session_->tls_started());
  }

  void on_timeout() override {
    if (!session_) return;
    // The timer measures client silence; while we are the ones working (an action is
    // pending, e.g. a large RETR or a throttled login) it does not count. net re-arms it.
    if (session_->action_pending()) return;
    if (!session_->closed()) how_ = "timeout";
    apply(session_->timeout());  // RFC 1939 §3: autologout, no UPDATE
  }

  void on_shutdown() override {
    if (!session_) {
      if (conn_) conn_->close();
      return;
    }
    if (!session_->closed() && session_->state() != pop3d::State::update) how_ = "shutdown";
    apply(session_->shutdown());  // a QUIT's Commit in flight finishes first
  }

  void on_close() override {
    conn_ = nullptr;  // from here on only actions run; nothing is written
    if (session_ && !session_->closed()) {
      how_ = how_ ? how_ : "dropped";
      // RFC 1939 §6: no UPDATE without QUIT. The session emits Release (and pending \Seen);
      // the queue runs them after whatever is in flight, handler or not.
      apply(session_->disconnected());
    }
    delay_timer_.stop();
    window_.clear();
    spare_.clear();
    flush_seen();  // normally done by the Release above; nothing may stay behind
    spdlog::info("pop3 quit user={} ip={} retr={} dele={} how={}", user_.empty() ? "-" : user_,
                 ip_, retr_, dele_, how_ ? how_ : "quit");
  }

 private:
  void apply(pop3d::Output out) {
    // A Retrieve answered from the read-ahead window leaves its result in immediate_: it is
    // fed back right after this Output's bytes are written (order kept), in this loop rather
    // than recursively, so a long pipelined run of RETRs costs no stack and no loop turn.
    for (;;) {
      for (auto& a : out.actions) run(std::move(a));
      if (!conn_) {
        immediate_.reset();
        return;
      }
      write_output(out);
      if (out.close_after_write) {
        immediate_.reset();
        conn_->close();
        return;
      }
      // RFC 2595 §4: the "+OK" goes out in clear, then the handshake; the session discards
      // whatever the client pipelined behind STLS until tls_started().
      if (out.start_tls) conn_->start_tls();
      if (!immediate_ || !session_) break;
      pop3d::ActionResult r = std::move(*immediate_);
      immediate_.reset();
      out = session_->complete(std::move(r));  // moved: the body is not copied
    }
    // While the session waits for a result it would only buffer input: let the kernel do
    // that instead (bounded by the socket buffers, and the client's own flow control).
    if (conn_ && session_) conn_->set_reading(!session_->action_pending());
    top_up();
  }

  void feed_result(pop3d::ActionResult r) {
    if (!session_) return;
    apply(session_->complete(std::move(r)));
  }

  // Writes an Output in order: its text, and the RETR responses built in read buffers
  // (status line and body together), which go back to the pool once net has them.
  // Pieces stay under glibc's mmap threshold (64 KiB, daemon/main.cpp): net copies each
  // write into a buffer of its own, and a buffer above the threshold is mmap()ed and
  // munmap()ed per write, each munmap a TLB shootdown across the worker threads.
  static constexpr size_t kWriteChunk = 60 * 1024;

  void write_output(pop3d::Output& out) {
    const std::string_view text(out.bytes);
    size_t from = 0;
    for (auto& body : out.bodies) {
      if (body.at > from) conn_->write(text.substr(from, body.at - from));
      from = body.at;
      std::string_view v = body.view();
      for (size_t pos = 0; pos < v.size(); pos += kWriteChunk) conn_->write(v.substr(pos, kWriteChunk));
      recycle(std::move(body.data));
    }
    if (from < text.size()) conn_->write(text.substr(from));
  }

  // Read buffers come back here after their bytes were written (or dropped) and are handed to
  // the next batch: kept only up to kSpareBytes of capacity per connection.
  static constexpr size_t kSpareBytes = 2 << 20;

  void recycle(std::string buf) {
    const size_t cap = buf.capacity();
    if (cap < 4096 || spare_bytes_ + cap > kSpareBytes) return;  // freed here
    spare_bytes_ += cap;
    spare_.push_back(std::move(buf));
  }

  std::vector<std::string> take_spares(size_t n) {
    std::vector<std::string> out;
    while (out.size() < n && !spare_.empty()) {
      spare_bytes_ -= spare_.back().capacity();
      out.push_back(std::move(spare_.back()));
      spare_.pop_back();
    }
    return out;
  }

  void drop_window() {
    for (auto& p : window_) recycle(std::move(p.result.bytes));
    window_.clear();
  }

  template <class Work>
  void push(Work work) {
    queue_->push(std::move(work));
  }

  // Commit and Release run after every \Seen flush before them has finished (the flags of a
  // message kept must be on disk once QUIT is answered, and IN-USE is released last): the
  // job goes through the seen queue first, which hands it to the main queue in order.
  void push_after_seen(ActionQueue::Job job) {
    flush_seen();
    // No flush queued or running: nothing to wait for, so no hop through the seen queue.
    if (seen_queue_->idle()) return queue_->push(std::move(job));
    seen_queue_->push([main = queue_, job = std::move(job)]() mutable -> std::function<void()> {
      return [main, job = std::move(job)]() mutable { main->push(std::move(job)); };
    });
  }

  // \Seen after RETR is batched: the session emits MarkSeen after every lock-step RETR, and
  // each store_flags is a durable index commit (an fsync, and a rename per message into cur/).
  // Flags are fire-and-forget, so they are collected and written every kSeenFlushMs, every
  // kSeenFlushCount messages, and always before a Commit or Release (queue order keeps them
  // ahead of the session's end); messages that Commit expunges are left out (Dovecot's POP3
  // likewise sets \Seen only in UPDATE, and only on what it keeps).
  static constexpr uint64_t kSeenFlushMs = 2000;
  static constexpr size_t kSeenFlushCount = 4096;

  void add_seen(std::vector<pop3d::Uid> uids) {
    seen_batch_.insert(seen_batch_.end(), uids.begin(), uids.end());
    if (seen_batch_.size() >= kSeenFlushCount) return flush_seen();
    if (!seen_timer_.active()) seen_timer_.start(kSeenFlushMs, [this] { flush_seen(); });
  }

  void flush_seen() {
    seen_timer_.stop();
    if (seen_batch_.empty()) return;
    // Runs even if the connection is gone by then: the client did RETR these. On its own
    // serial queue, so a large flags commit never holds up the read-ahead.
    seen_queue_->push([rt = &rt_, user = user_,
          uids = std::exchange(seen_batch_, {})]() -> std::function<void()> {
      if (!rt->store) return {};
      std::vector<uint32_t> u32(uids.begin(), uids.end());
      store::Flags seen;
      seen.system = store::kSeen;
      auto st = rt->store->store_flags(user, kInbox, u32, store::FlagOp::add, seen);
      if (!st) spdlog::warn("pop3 seen user={} error={}", user, st.error().message);
      return {};
    });
  }

  // Read-ahead: clients fetch in order (RETR 1, RETR 2, ...). The handler keeps a window of
  // the next messages of the maildrop in memory (at most kWindowMessages and kWindowBytes,
  // messages over kWindowBytes are never read ahead), read on a worker through the same
  // serial queue several at a time, so a RETR is normally answered on the loop thread at once
  // and only every few messages costs a worker round trip, overlapped with the client's
  // reading. A Retrieve outside the window (a client skipping about) drops it and reads from
  // the requested message on. The window is topped up kBatchMessages at a time as soon as
  // that many fit (small batches: a RETR that catches up with the read waits for fewer files).
  static constexpr size_t kWindowMessages = 32;
  static constexpr uint64_t kWindowBytes = 2 << 20;
  static constexpr size_t kBatchMessages = 8;

  struct Prefetched {
    pop3d::Uid uid = 0;
    pop3d::RetrieveResult result;
  };

  void remember_maildrop(const pop3d::MaildropResult& m) {
    order_.clear();
    position_.clear();
    if (m.outcome != pop3d::MaildropResult::Outcome::ok) return;
    for (size_t i = 0; i < m.messages.size(); ++i) {
      order_.push_back({m.messages[i].uid, m.messages[i].size_octets});
      position_[m.messages[i].uid] = i;
    }
  }

  uint64_t window_bytes() const {
    uint64_t n = 0;
    for (const auto& p : window_) n += p.result.bytes.size();
    return n;
  }

  // Queues one worker job reading order_[from..] (at most the window's limits; the first
  // one always when `must`), returns false if nothing was queued.
  bool read_batch(size_t from, bool must, size_t max_count = kWindowMessages) {
    std::vector<pop3d::Uid> uids;
    uint64_t bytes = window_bytes();
    size_t count = window_.size();
    for (size_t i = from; i < order_.size() && count < kWindowMessages && uids.size() < max_count;
         ++i, ++count) {
      const uint64_t size = order_[i].second;
      if (!(must && uids.empty()) && (size > kWindowBytes || bytes + size > kWindowBytes)) break;
      uids.push_back(order_[i].first);
      bytes += size;
    }
    if (uids.empty()) return false;
    inflight_ = uids;
    next_ = from + uids.size();
    const uint64_t gen = ++window_gen_;
    std::weak_ptr<Pop3Handler> self = weak_from_this();
    std::vector<std::string> bufs = take_spares(uids.size());
    push([rt = &rt_, user = user_, uids = std::move(uids), bufs = std::move(bufs), gen,
          self]() mutable -> std::function<void()> {
      auto results = read_batch_on_worker(rt->store, user, uids, std::move(bufs));
      auto got = std::make_shared<std::vector<Prefetched>>();
      got->reserve(uids.size());
      for (size_t i = 0; i < uids.size(); ++i) got->push_back({uids[i], std::move(results[i])});
      return alive(self, [got, gen](Pop3Handler& h) { h.batch_done(gen, std::move(*got)); });
    });
    return true;
  }

  void batch_done(uint64_t gen, std::vector<Prefetched> got) {
    if (gen != window_gen_) {  // superseded by a read from elsewhere
      for (auto& p : got) recycle(std::move(p.result.bytes));
      return;
    }
    inflight_.clear();
    for (auto& p : got) window_.push_back(std::move(p));
    if (waiting_) {
      auto [id, uid] = *waiting_;
      waiting_.reset();
      if (auto r = take_from_window(uid)) {
        feed_result(pop3d::ActionResult{id, std::move(*r)});
        return;  // apply() topped up
      }
      // Not read after all (cannot happen: the batch held it); answer as a failure.
      feed_result(pop3d::ActionResult{id, pop3d::RetrieveResult{}});
      return;
    }
    top_up();
  }

  // The window's copy of `uid`, dropping what comes before it; nullopt if it is not there.
  std::optional<pop3d::RetrieveResult> take_from_window(pop3d::Uid uid) {
    auto it = std::find_if(window_.begin(), window_.end(),
                           [uid](const Prefetched& p) { return p.uid == uid; });
    if (it == window_.end()) return std::nullopt;
    pop3d::RetrieveResult r = std::move(it->result);
    for (auto skipped = window_.begin(); skipped != it; ++skipped)
      recycle(std::move(skipped->result.bytes));
    window_.erase(window_.begin(), it + 1);
    return r;
  }

  // Reads more ahead once a batch fits (nothing in flight, in TRANSACTION); read_batch()
  // stops at the byte limit.
  void top_up() {
    if (!session_ || session_->state() != pop3d::State::transaction || !inflight_.empty()) return;
    if (next_ == 0 || next_ >= order_.size()) return;  // nothing retrieved yet, or at the end
    if (window_.size() + kBatchMessages > kWindowMessages) return;
    read_batch(next_, false, kBatchMessages);
  }

  void retrieve(pop3d::ActionId id, pop3d::Uid uid) {
    if (auto r = take_from_window(uid)) {
      immediate_ = pop3d::ActionResult{id, std::move(*r)};  // apply() feeds it back
      return;
    }
    if (std::find(inflight_.begin(), inflight_.end(), uid) != inflight_.end()) {
      waiting_ = {id, uid};  // answered when the batch lands
      return;
    }
    // Outside the window: start over from this message alone, so it is answered after one
    // read; the window fills behind it (a stale batch still in the queue is ignored when it
    // lands).
    drop_window();
    inflight_.clear();
    auto pos = position_.find(uid);
    if (pos != position_.end() && read_batch(pos->second, true, 1)) {
      waiting_ = {id, uid};
      return;
    }
    // Not in the maildrop as opened (cannot happen: the session only asks for its own).
    ++window_gen_;
    std::weak_ptr<Pop3Handler> self = weak_from_this();
    push([rt = &rt_, user = user_, uid, id, self]() -> std::function<void()> {
      auto r = std::make_shared<pop3d::ActionResult>(
          pop3d::ActionResult{id, read_retrieve(rt->store, user, uid, {}, {})});
      return alive(self, [r](Pop3Handler& h) { h.feed_result(std::move(*r)); });
    });
  }

  // Runs one action through the serial queue.
  void run(pop3d::Action action) {
    const pop3d::ActionId id = action.id;
    if (auto* seen = std::get_if<pop3d::MarkSeen>(&action.kind)) return add_seen(std::move(seen->uids));
    if (auto* commit = std::get_if<pop3d::Commit>(&action.kind)) {
      // Messages expunged now need no \Seen: drop them from the batch (the session leaves
      // them out of its MarkSeen already; this covers what was batched before QUIT).
      std::vector<pop3d::Uid> doomed = commit->expunge;
      std::sort(doomed.begin(), doomed.end());
      std::erase_if(seen_batch_, [&](pop3d::Uid u) {
        return std::binary_search(doomed.begin(), doomed.end(), u);
      });
    }
    // Jobs hold the handler weakly only: it must die on the loop thread (its Timer), never as
    // the last reference dropped by a worker.
    std::weak_ptr<Pop3Handler> self = weak_from_this();
    std::visit(
        [&](auto& a) {
          using A = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<A, pop3d::Authenticate>) {
            push([rt = &rt_, ip = ip_, a = std::move(a), id, self]() -> std::function<void()> {
              auth::LoginResult lr;
              if (rt->authenticator)
                lr = rt->authenticator->login(a.user, a.password, ip, "pop3");
              else
                lr.outcome = auth::LoginResult::Outcome::unavailable;
              pop3d::ActionResult r{id, to_auth_result(lr)};
              return alive(self, [r, delay = lr.delay, ok = lr.outcome == auth::LoginResult::Outcome::ok](Pop3Handler& h) {
                // Logged in: no longer counted as unauthenticated from this address. One
                // POP3 session per user holds the maildrop (RFC 1939 §8), so POP3 needs no
                // per-user connection limit of its own.
                if (ok && h.conn_) h.conn_->release_ip_slot();
                h.answer_after(delay, r);
              });
            });
          } else if constexpr (std::is_same_v<A, pop3d::OpenMaildrop>) {
            user_ = a.user;
            push([rt = &rt_, drops = drops_, q = queue_.get(), user = a.user, id,
                  self]() -> std::function<void()> {
              pop3d::ActionResult r{id, pop3d::MaildropResult{}};
              if (rt->store) r.value = open_maildrop(*rt->store, *drops, *q, user);
              return alive(self, [r](Pop3Handler& h) {
                h.remember_maildrop(std::get<pop3d::MaildropResult>(r.value));
                h.feed_result(r);
              });
            });
          } else if constexpr (std::is_same_v<A, pop3d::MeasureSizes>) {
            push([rt = &rt_, drops = drops_, user = user_, uids = std::move(a.uids), id,
                  self]() -> std::function<void()> {
              auto r = std::make_shared<pop3d::ActionResult>(pop3d::ActionResult{id, pop3d::SizesResult{}});
              if (rt->store) r->value = measure_sizes(*rt->store, rt->workers, *drops, user, uids);
              return alive(self, [r](Pop3Handler& h) { h.feed_result(std::move(*r)); });
            });
          } else if constexpr (std::is_same_v<A, pop3d::Retrieve>) {
            ++retr_;
            retrieve(id, a.uid);
          } else if constexpr (std::is_same_v<A, pop3d::MarkSeen>) {
            // Handled by add_seen() above.
          } else if constexpr (std::is_same_v<A, pop3d::Commit>) {
            // RFC 1939 §6 UPDATE: expunge through the store, so IMAP sessions are notified.
            push_after_seen([rt = &rt_, user = user_, uids = std::move(a.expunge), id,
                  self]() -> std::function<void()> {
              pop3d::CommitResult cr;
              size_t removed = 0;
              if (rt->store) {
                std::vector<uint32_t> u32(uids.begin(), uids.end());
                auto ex = rt->store->expunge(user, kInbox, u32);
                cr.ok = ex.ok();
                if (ex) removed = ex->size();
                else spdlog::warn("pop3 update user={} error={}", user, ex.error().message);
              }
              pop3d::ActionResult r{id, cr};
              return alive(self, [r, removed](Pop3Handler& h) {
                h.dele_ = removed;
                h.feed_result(r);
              });
            });
          } else if constexpr (std::is_same_v<A, pop3d::Release>) {
            // Runs after everything queued before it, connection or not.
            push_after_seen([drops = drops_, q = queue_.get()]() -> std::function<void()> {
              if (!q->locked_user.empty()) {
                drops->release(q->locked_user);
                q->locked_user.clear();
              }
              return {};
            });
          }
        },
        action.kind);
  }

  // auth::LoginResult::delay: the answer (good or bad) waits, so timing reveals nothing.
  void answer_after(std::chrono::milliseconds delay, pop3d::ActionResult r) {
    if (delay.count() <= 0) return feed_result(r);
    // The timer belongs to this handler: destroyed with it, so `this` stays valid.
    delay_timer_.start(static_cast<uint64_t>(delay.count()), [this, r] { feed_result(r); });
  }

  Runtime& rt_;
  std::shared_ptr<Pop3Maildrops> drops_;
  bool implicit_tls_;
  std::shared_ptr<ActionQueue> queue_;
  std::shared_ptr<ActionQueue> seen_queue_;  // \Seen flushes; Commit/Release pass through it
  net::Timer delay_timer_;
  net::Timer seen_timer_;
  std::vector<std::pair<pop3d::Uid, uint64_t>> order_;  // maildrop: uid, size
  std::unordered_map<pop3d::Uid, size_t> position_;     // uid -> index in order_
  std::deque<Prefetched> window_;        // read ahead, in maildrop order
  std::vector<std::string> spare_;       // read buffers to reuse (see recycle())
  size_t spare_bytes_ = 0;               // their capacity
  std::vector<pop3d::Uid> inflight_;     // being read by the current batch
  size_t next_ = 0;                      // index in order_ after the last one asked for
  uint64_t window_gen_ = 0;              // bumped when the window starts over
  std::optional<std::pair<pop3d::ActionId, pop3d::Uid>> waiting_;  // a Retrieve for inflight_
  std::optional<pop3d::ActionResult> immediate_;  // answered from the window, see apply()
  std::vector<pop3d::Uid> seen_batch_;  // RETR'd, \Seen not yet handed to the queue
  net::Connection* conn_ = nullptr;
  std::optional<pop3d::Session> session_;
  std::string ip_;
  std::string user_;  // canonical, from OpenMaildrop
  uint64_t retr_ = 0;
  uint64_t dele_ = 0;
  const char* how_ = nullptr;  // how the session ended, for the log; null = QUIT
};

}  // namespace

net::HandlerFactory make_pop3_factory(Runtime& rt, ListenerKind kind) {
  // Called on the loop thread at start-up, once per listener: pop3 and pop3s share the
  // lock table (one maildrop, one POP3 session, whichever port it came in on).
  if (!rt.pop3_maildrops) rt.pop3_maildrops = std::make_shared<Pop3Maildrops>();
  auto drops = rt.pop3_maildrops;
  bool implicit = spec(kind).implicit_tls;
  return [&rt, drops, implicit] { return std::make_shared<Pop3Handler>(rt, drops, implicit); };
}

}  // namespace tern::daemon
