// reports/report_store.h: aggregation in the db, the per-domain bound, the pending read and
// deletion by day, the send state.
#include "reports/report_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

using namespace tern;
using namespace tern::reports;

namespace {

class ReportDb : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tern-reports-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    open(3);
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void open(int64_t max_rows) {
    db_.reset();
    auto s = ReportStore::open((dir_ / "dmarc_reports.db").string(), max_rows);
    ASSERT_TRUE(s) << s.error().message;
    db_ = std::move(*s);
  }
  static Aggregator::Entry entry(const std::string& domain, const std::string& ip, int64_t count) {
    Aggregator::Entry e;
    e.policy.domain = domain;
    e.policy.p = "reject";
    e.policy.rua = {"mailto:a@" + domain, "mailto:b@rep.example!1m"};
    e.row.source_ip = ip;
    e.row.header_from = domain;
    e.row.dkim_results = {{domain, "s", "pass"}};
    e.row.spf_results = {{domain, "mfrom", "fail"}};
    e.count = count;
    return e;
  }
  std::filesystem::path dir_;
  std::unique_ptr<ReportStore> db_;
};

}  // namespace

TEST_F(ReportDb, IdenticalRowsAddUpAcrossBatchesAndDays) {
  ASSERT_TRUE(db_->add({entry("a.example", "192.0.2.1", 2), entry("b.example", "192.0.2.1", 1)}, 100));
  ASSERT_TRUE(db_->add({entry("a.example", "192.0.2.1", 3), entry("a.example", "192.0.2.2", 1)}, 100));
  ASSERT_TRUE(db_->add({entry("a.example", "192.0.2.1", 4)}, 101));
  auto p = db_->pending(102);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->size(), 2u);
  const DomainReport& a = (*p)[0];
  EXPECT_EQ(a.policy.domain, "a.example");
  EXPECT_EQ(a.policy.p, "reject");
  EXPECT_EQ(a.policy.rua, (std::vector<std::string>{"mailto:a@a.example", "mailto:b@rep.example!1m"}));
  EXPECT_EQ(a.first_day, 100);
  EXPECT_EQ(a.last_day, 101);
  ASSERT_EQ(a.rows.size(), 2u);  // the two days' identical rows are one record
  EXPECT_EQ(a.rows[0].row.source_ip, "192.0.2.1");
  EXPECT_EQ(a.rows[0].count, 9);
  EXPECT_EQ(a.rows[0].row.dkim_results, (std::vector<DkimAuth>{{"a.example", "s", "pass"}}));
  EXPECT_EQ(a.rows[1].count, 1);
  EXPECT_EQ(a.messages(), 10);
  // Only finished days: before day 101, a.example has day 100 alone.
  auto before = db_->pending(101);
  ASSERT_TRUE(before);
  EXPECT_EQ((*before)[0].rows[0].count, 5);
  EXPECT_EQ((*before)[0].last_day, 100);
}

TEST_F(ReportDb, RowsPerDomainAndDayAreBounded) {
  std::vector<Aggregator::Entry> batch;
  for (int i = 1; i <= 5; ++i) batch.push_back(entry("a.example", "192.0.2." + std::to_string(i), 1));
  batch.push_back(entry("b.example", "192.0.2.9", 1));
  auto dropped = db_->add(batch, 100);
  ASSERT_TRUE(dropped);
  EXPECT_EQ(*dropped, std::vector<std::string>{"a.example"});
  // An existing row still counts; a new one that day is dropped; the next day starts afresh.
  dropped = db_->add({entry("a.example", "192.0.2.1", 1), entry("a.example", "192.0.2.7", 1)}, 100);
  EXPECT_EQ(*dropped, std::vector<std::string>{"a.example"});
  EXPECT_TRUE(db_->add({entry("a.example", "192.0.2.7", 1)}, 101)->empty());
  auto p = db_->pending(200);
  ASSERT_EQ((*p)[0].rows.size(), 4u);
  EXPECT_EQ((*p)[0].messages(), 5);
  EXPECT_EQ((*p)[1].messages(), 1);
}

TEST_F(ReportDb, RemoveDeletesTheReportedDaysOnly) {
  ASSERT_TRUE(db_->add({entry("a.example", "192.0.2.1", 1), entry("b.example", "192.0.2.1", 1)}, 100));
  ASSERT_TRUE(db_->add({entry("a.example", "192.0.2.1", 1)}, 101));
  ASSERT_TRUE(db_->remove("a.example", 101));
  auto p = db_->pending(200);
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0].first_day, 101);
  EXPECT_EQ((*p)[1].policy.domain, "b.example");
  // Survives reopening (what a restart sees).
  open(3);
  EXPECT_EQ(db_->pending(200)->size(), 2u);
}

TEST(ReportCutoff, DailyOnceFromTheHourRequestsAtOnce) {
  const int64_t day = 20000, midnight = day * kDay;
  // Before the hour: nothing; from it: the days before today, once.
  EXPECT_EQ(report_cutoff(midnight + 3599, 1, day - 1, false), 0);
  EXPECT_EQ(report_cutoff(midnight + 3600, 1, day - 1, false), day);
  EXPECT_EQ(report_cutoff(midnight + 23 * 3600, 1, day - 1, false), day);  // a restart later that day
  EXPECT_EQ(report_cutoff(midnight + 3600, 1, day, false), 0);            // already ran today
  EXPECT_EQ(report_cutoff(midnight, 0, 0, false), day);                   // first start ever
  // A request: everything, today's rows too, whatever the hour and state.
  EXPECT_EQ(report_cutoff(midnight + 60, 5, day, true), day + 1);
}

TEST_F(ReportDb, SendStateAndCounter) {
  EXPECT_EQ(*db_->meta(kLastSendDay), 0);
  ASSERT_TRUE(db_->set_meta(kLastSendDay, 20000));
  ASSERT_TRUE(db_->set_meta(kSendRequested, 1));
  EXPECT_EQ(*db_->next(kReportCounter), 1);
  EXPECT_EQ(*db_->next(kReportCounter), 2);
  open(3);
  EXPECT_EQ(*db_->meta(kLastSendDay), 20000);
  EXPECT_EQ(*db_->meta(kSendRequested), 1);
  EXPECT_EQ(*db_->next(kReportCounter), 3);
}
