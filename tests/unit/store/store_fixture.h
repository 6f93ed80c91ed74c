// Shared by the store tests: a temporary data_dir and a recording FileOps fake.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/strings.h"
#include "store/store.h"

namespace tern::store::testing {

namespace fs = std::filesystem;

// Runs SQL on a closed index.db (e.g. to make it look like an index from before a migration).
inline void exec_sql(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

// The first column of the first row `sql` returns from a database file, opened read-only as
// another process would; -1 (and a test failure) when it cannot be read.
inline int64_t query_int(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  int64_t out = -1;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
    ADD_FAILURE() << "cannot open " << path;
  else if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK)
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
  else if (sqlite3_step(st) != SQLITE_ROW)
    ADD_FAILURE() << sql << ": no row";
  else
    out = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// No file left in a Maildir's tmp/, in it or in its shard directories (tmp/<n>/).
inline bool no_tmp_files(const std::string& tmp_dir) {
  for (auto& e : fs::recursive_directory_iterator(tmp_dir))
    if (!e.is_directory()) return false;
  return true;
}

// Forwards to the real POSIX operations and records each call as "op <path>" (paths relative
// to the data_dir). Optional: a delay in fsync_dir (models disk latency, lets group commit
// batch) and a "crash" mode where fsync_dir fails and unlink does nothing, which leaves the
// disk exactly as a crash between rename and index commit would.
class RecordingFileOps : public FileOps {
 public:
  explicit RecordingFileOps(std::string root) : root_(std::move(root)), real_(posix_file_ops()) {}

  Status write_file(const std::string& p, std::string_view d, int64_t m) override {
    record("write_file", p);
    return real_->write_file(p, d, m);
  }
  Status fsync_file(const std::string& p) override {
    record("fsync_file", p);
    return real_->fsync_file(p);
  }
  Status sync_data(const std::string& p) override {
    record("sync_data", p);
    if (int ms = sync_data_delay_ms.load()) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    if (crash_mode) return make_error(Errc::internal, "test: simulated crash");
    return real_->sync_data(p);
  }
  Status rename(const std::string& f, const std::string& t) override {
    record("rename", f + " -> " + rel(t));
    if (int ms = publish_delay_ms.load(); ms && f.find("/tmp/") != std::string::npos &&
                                          (t.find("/new/") != std::string::npos || t.find("/cur/") != std::string::npos))
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    if (fail_renames && (t.find("/new/") != std::string::npos || t.find("/cur/") != std::string::npos))
      return make_error(Errc::internal, "test: simulated crash");
    return real_->rename(f, t);
  }
  Status link(const std::string& f, const std::string& t) override {
    record("link", f + " -> " + rel(t));
    if (refuse_links) return make_error(Errc::refused, "test: no links");
    return real_->link(f, t);
  }
  Status unlink(const std::string& p) override {
    record("unlink", p);
    if (crash_mode || skip_unlinks) return {};
    return real_->unlink(p);
  }
  Status fsync_dir(const std::string& p) override {
    record("fsync_dir", p);
    if (int ms = fsync_dir_delay_ms.load()) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    if (crash_mode) return make_error(Errc::internal, "test: simulated crash");
    return real_->fsync_dir(p);
  }
  Status sync_filesystem(int fd) override {
    record("sync_filesystem", root_);
    if (crash_mode) return make_error(Errc::internal, "test: simulated crash");
    return real_->sync_filesystem(fd);
  }
  Status mkdir(const std::string& p) override { return real_->mkdir(p); }

  void record(const std::string& op, const std::string& path) {
    std::lock_guard lock(mu_);
    log_.push_back(op + " " + rel(path));
  }
  std::vector<std::string> log() {
    std::lock_guard lock(mu_);
    return log_;
  }
  void clear() {
    std::lock_guard lock(mu_);
    log_.clear();
  }

  std::atomic<int> fsync_dir_delay_ms{0};
  std::atomic<int> sync_data_delay_ms{0};  // the index WAL's flush (WalSync)
  // A delay in renames from tmp/ into new/ or cur/ (a message file being put in place).
  std::atomic<int> publish_delay_ms{0};
  bool crash_mode = false;
  bool refuse_links = false;
  // Together: the disk as a crash right after an index commit leaves it, when the message
  // renames (into new/ or cur/) and the unlinks that follow the commit never happened.
  bool fail_renames = false;
  bool skip_unlinks = false;

 private:
  std::string rel(const std::string& p) const {
    return p.rfind(root_, 0) == 0 ? p.substr(root_.size()) : p;
  }
  std::string root_;
  std::shared_ptr<FileOps> real_;
  std::mutex mu_;
  std::vector<std::string> log_;
};

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("tern-store-" + std::to_string(::getpid()) + "-" +
                                          random_id(8)))
               .string();
    fs::create_directories(dir_);
    ops_ = std::make_shared<RecordingFileOps>(dir_);
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  StoreOptions options() {
    StoreOptions o;
    o.data_dir = dir_;
    o.hostname = "mx.test";
    o.file_ops_for_testing = ops_;
    o.trace_for_testing = [this](std::string_view e) { ops_->record(std::string(e), ""); };
    o.staged_max_bytes = staged_max_;
    o.staged_sync_interval_ms = sync_interval_ms_;
    return o;
  }
  void open() {
    store_.reset();
    auto s = Store::open(options());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
  }
  uint32_t deliver(const std::string& user, const std::string& bytes,
                   const std::string& mailbox = "INBOX") {
    DeliveryRequest req;
    req.targets.push_back({user, mailbox, 0});
    req.message = bytes;
    auto out = store_->deliver(req);
    EXPECT_TRUE(out.ok());
    if (!out.ok()) return 0;
    EXPECT_TRUE((*out)[0].status.ok()) << (*out)[0].status.error().message;
    return (*out)[0].uid;
  }
  std::vector<uint32_t> uids(const std::string& user, const std::string& mailbox) {
    std::vector<uint32_t> out;
    auto snap = store_->snapshot(user, mailbox);
    EXPECT_TRUE(snap.ok());
    if (snap.ok())
      for (auto& m : snap->messages) out.push_back(m.uid);
    return out;
  }
  // Waits (at most 10 s) until the FileOps log shows an `op` call (whose line holds
  // `containing`): another thread is in it.
  void wait_for_op(const std::string& op, const std::string& containing = "") {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    auto seen = [&] {
      auto log = ops_->log();
      return std::any_of(log.begin(), log.end(), [&](const std::string& l) {
        return l.rfind(op, 0) == 0 && l.find(containing) != std::string::npos;
      });
    };
    while (!seen() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Runs body(i) for i in [0, n) on n threads released together (so their calls overlap as
  // much as possible), and joins them.
  static void run_together(int n, const std::function<void(int)>& body) {
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i)
      threads.emplace_back([&, i] {
        ready++;
        while (ready.load() < n) std::this_thread::yield();
        body(i);
      });
    for (auto& t : threads) t.join();
  }
  // `n` threads, released together, each delivering message(i) to user's INBOX with the
  // blocking deliver(): the UID each got (0 for a failure), by i.
  std::vector<uint32_t> deliver_concurrently(const std::string& user, int n,
                                             const std::function<std::string(int)>& message) {
    std::vector<uint32_t> got(static_cast<size_t>(n), 0);
    run_together(n, [&](int i) {
      std::string bytes = message(i);
      DeliveryRequest req;
      req.targets.push_back({user, "INBOX", 0});
      req.message = bytes;
      auto out = store_->deliver(req);
      if (out.ok() && (*out)[0].status.ok()) got[static_cast<size_t>(i)] = (*out)[0].uid;
    });
    return got;
  }
  // The ",U=" of every rename the fake recorded, in order (0 for a rename without one).
  std::vector<uint32_t> renamed_uids() {
    static const std::regex uid_re(",U=([0-9]+)");
    std::vector<uint32_t> out;
    for (auto& line : ops_->log()) {
      if (line.rfind("rename ", 0) != 0) continue;
      std::smatch m;
      out.push_back(std::regex_search(line, m, uid_re) ? static_cast<uint32_t>(std::stoul(m[1])) : 0);
    }
    return out;
  }
  // Every regular file in new/ and cur/ of a folder.
  std::vector<std::string> files(const std::string& folder) {
    std::vector<std::string> out;
    for (const char* sub : {"/new", "/cur"})
      for (auto& e : fs::directory_iterator(folder + sub)) out.push_back(e.path().string());
    return out;
  }
  std::string maildir(const std::string& domain, const std::string& local) {
    return dir_ + "/mail/" + domain + "/" + local;
  }

  std::string dir_;
  // Staged delivery (store.h): 0 makes every delivery fsync its file (the path larger
  // messages take); a long interval keeps copies staged for as long as a test needs.
  uint64_t staged_max_ = StoreOptions{}.staged_max_bytes;
  int sync_interval_ms_ = StoreOptions{}.staged_sync_interval_ms;
  std::shared_ptr<RecordingFileOps> ops_;
  std::unique_ptr<Store> store_;
};

}  // namespace tern::store::testing
