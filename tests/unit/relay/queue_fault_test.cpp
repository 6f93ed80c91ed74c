// Issue 20: ENOSPC and EIO at every durable step of a queue insert and of a DSN's insert (tmp
// write, fsync, rename, directory fsync, queue.db commit). Nothing that failed is queued or
// left behind, the error is one the SMTP side answers with 4xx, the queue goes on, and a
// reopen (recovery) finds files and rows agreeing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <set>

#include "relay/relay.h"
#include "support/fault_vfs.h"
#include "support/faulty_file_ops.h"

using namespace tern;
using namespace tern::relay;
using tern::testing::FaultVfs;
using tern::testing::FaultyFileOps;

namespace {

struct Step {
  const char* name;
  const char* op;  // FaultyFileOps op, or "" for the queue.db commit (SQLite)
  const char* part;
};

class QueueFault : public ::testing::TestWithParam<std::tuple<Step, int, MessageKind>> {
 protected:
  void SetUp() override {
    FaultVfs::install();
    dir_ = std::filesystem::temp_directory_path() /
           ("relayq-fault-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    reopen();
  }
  void TearDown() override {
    FaultVfs::disarm();
    q_.reset();
    std::filesystem::remove_all(dir_);
  }
  void reopen() {
    q_.reset();
    auto q = QueueStore::open(dir_.string(), ops_);
    ASSERT_TRUE(q.ok()) << q.error().message;
    q_ = std::move(*q);
  }
  Envelope envelope(MessageKind kind) {
    Envelope e;
    e.kind = kind;
    e.sender = kind == MessageKind::dsn ? "" : "alice@local.test";
    e.recipients.push_back({"bob@remote.test", "", ""});
    return e;
  }
  // The files in queue/ (tmp.* included).
  std::set<std::string> files() {
    std::set<std::string> out;
    for (auto& e : std::filesystem::directory_iterator(dir_ / "queue"))
      out.insert(e.path().filename().string());
    return out;
  }
  std::set<std::string> rows() {
    std::set<std::string> out;
    auto l = q_->list();
    EXPECT_TRUE(l.ok());
    if (l.ok())
      for (auto& m : *l) out.insert(m.id);
    return out;
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::shared_ptr<FaultyFileOps> ops_ = std::make_shared<FaultyFileOps>();
  std::unique_ptr<QueueStore> q_;
};

TEST_P(QueueFault, FailedStepQueuesNothing) {
  auto [step, err, kind] = GetParam();
  auto first = q_->enqueue(envelope(kind), "Subject: one\r\n\r\nbody\r\n", 1000);
  ASSERT_TRUE(first.ok()) << first.error().message;
  if (*step.op) ops_->arm(step.op, err, step.part);
  else FaultVfs::arm(FaultVfs::Op::write, "queue.db-wal", err);
  auto second = q_->enqueue(envelope(kind), "Subject: two\r\n\r\nbody\r\n", 1000);
  ops_->disarm();
  FaultVfs::disarm();
  ASSERT_FALSE(second.ok()) << step.name;
  // SMTP answers a failed enqueue with 451 (temporary or internal), never 250.
  EXPECT_TRUE(second.error().code == Errc::temporary || second.error().code == Errc::internal)
      << to_string(second.error().code);
  EXPECT_EQ(rows(), std::set<std::string>{*first});
  EXPECT_EQ(files(), std::set<std::string>{*first}) << "nothing left behind by " << step.name;
  // The queue goes on, and a restart agrees.
  auto third = q_->enqueue(envelope(kind), "Subject: three\r\n\r\nbody\r\n", 1000);
  ASSERT_TRUE(third.ok()) << third.error().message;
  reopen();
  EXPECT_EQ(rows(), (std::set<std::string>{*first, *third}));
  EXPECT_EQ(files(), (std::set<std::string>{*first, *third}));
  auto bytes = q_->read_message(*third);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, "Subject: three\r\n\r\nbody\r\n");
}

const Step kSteps[] = {
    {"tmp_write", "write_file", "/tmp."},
    {"tmp_fsync", "fsync_file", "/tmp."},
    {"rename", "rename", "/queue/"},
    {"dir_fsync", "fsync_dir", "/queue"},
    {"commit", "", ""},
};

INSTANTIATE_TEST_SUITE_P(
    Steps, QueueFault,
    ::testing::Combine(::testing::ValuesIn(kSteps), ::testing::Values(ENOSPC, EIO),
                       ::testing::Values(MessageKind::normal, MessageKind::dsn)),
    [](const auto& info) {
      return std::string(std::get<0>(info.param).name) + "_" +
             (std::get<1>(info.param) == ENOSPC ? "ENOSPC" : "EIO") + "_" +
             (std::get<2>(info.param) == MessageKind::dsn ? "dsn" : "mail");
    });

}  // namespace
