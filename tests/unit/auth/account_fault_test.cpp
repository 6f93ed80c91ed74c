// Issue 20: ENOSPC and EIO on accounts.db's durable writes (the WAL's write and its fsync at
// COMMIT). Every change reports the failure and changes nothing; the database goes on working
// once the fault is gone, and what it says survives a reopen.
#include <cerrno>
#include <tuple>

#include "auth_fixture.h"
#include "support/fault_vfs.h"

using tern::testing::FaultVfs;

namespace {

class AccountFault : public AuthDbTest,
                     public ::testing::WithParamInterface<std::tuple<FaultVfs::Op, int>> {
 protected:
  void SetUp() override {
    FaultVfs::install();
    AuthDbTest::SetUp();
    ASSERT_OK(db_->add_domain("example.test"));
    ASSERT_OK(db_->add_user("alice@example.test", "pw-alice-1", 0));
  }
  void TearDown() override {
    FaultVfs::disarm();
    AuthDbTest::TearDown();
  }
  void arm() { FaultVfs::arm(std::get<0>(GetParam()), "accounts.db-wal", std::get<1>(GetParam())); }
  bool has_user(const std::string& a) {
    auto f = db_->find_user(a);
    EXPECT_TRUE(f.ok());
    return f.ok() && f->has_value();
  }
};

TEST_P(AccountFault, FailedChangesChangeNothing) {
  arm();
  EXPECT_FALSE(db_->add_user("bob@example.test", "pw-bob-1", 0).ok());
  EXPECT_FALSE(db_->remove_user("alice@example.test").ok());
  EXPECT_FALSE(db_->set_quota("alice@example.test", 1000).ok());
  EXPECT_FALSE(db_->add_alias("team@example.test", {"alice@example.test"}).ok());
  EXPECT_GT(FaultVfs::hits(), 0);
  FaultVfs::disarm();
  EXPECT_FALSE(has_user("bob@example.test"));
  EXPECT_TRUE(has_user("alice@example.test"));
  auto q = db_->quota_of("alice@example.test");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(*q, 0u);
  // It goes on, and a reopen agrees.
  ASSERT_OK(db_->remove_user("alice@example.test"));
  ASSERT_OK(db_->add_user("bob@example.test", "pw-bob-1", 0));
  db_ = open_db();
  ASSERT_NE(db_, nullptr);
  EXPECT_FALSE(has_user("alice@example.test"));
  EXPECT_TRUE(has_user("bob@example.test"));
}

INSTANTIATE_TEST_SUITE_P(
    Faults, AccountFault,
    ::testing::Combine(::testing::Values(FaultVfs::Op::write, FaultVfs::Op::sync),
                       ::testing::Values(ENOSPC, EIO)),
    [](const auto& info) {
      return std::string(std::get<0>(info.param) == FaultVfs::Op::write ? "write" : "fsync") + "_" +
             (std::get<1>(info.param) == ENOSPC ? "ENOSPC" : "EIO");
    });

}  // namespace
