// reports (part of reports.h): data_dir/dmarc_reports.db, the rows waiting for their report.
//
// Tables: records (one row per policy domain, UTC day and distinct Row, with its count),
// policy (the last published policy seen per policy domain), meta (send state: the last
// day the daily send ran, a request from `ternctl dmarc report --send-now`, the report
// counter). WAL with synchronous=NORMAL: rows are statistics, a crash may lose the last
// commits (about a second of mail), and no commit waits for an fsync.
//
// Threading: thread-safe (one connection behind a mutex) and BLOCKING: workers or ternctl,
// never the loop thread. ternctl may use the file while ternd runs (WAL, busy timeout).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "reports/feedback.h"
#include "reports/row.h"

namespace tern::sqlite {
class Connection;
}  // namespace tern::sqlite

namespace tern::reports {

inline constexpr int64_t kDay = 86400;

struct DomainReport {
  PublishedPolicy policy;
  int64_t first_day = 0, last_day = 0;  // unix day numbers (seconds / 86400)
  std::vector<CountedRow> rows;
  int64_t messages() const;
};

class ReportStore {
 public:
  // max_rows: distinct rows kept per policy domain and day; more are dropped (counted in
  // add()'s answer).
  static Result<std::unique_ptr<ReportStore>> open(const std::string& path, int64_t max_rows);
  ~ReportStore();
  ReportStore(const ReportStore&) = delete;
  ReportStore& operator=(const ReportStore&) = delete;

  // The batch in one transaction, on unix day `day`: an existing identical row's count grows,
  // a new row is inserted unless its domain already has max_rows that day. Returns the
  // policy domains that had rows dropped.
  Result<std::vector<std::string>> add(const std::vector<Aggregator::Entry>& batch, int64_t day);
  // Every policy domain with rows of days before `before_day`, with those rows.
  Result<std::vector<DomainReport>> pending(int64_t before_day);
  // Deletes a domain's rows of days before `before_day` (its report is queued, or has nowhere
  // to go).
  Status remove(const std::string& domain, int64_t before_day);

  // Send state (0 when unset).
  Result<int64_t> meta(std::string_view key);
  Status set_meta(std::string_view key, int64_t value);
  // Increments a counter and returns its new value.
  Result<int64_t> next(std::string_view key);

 private:
  explicit ReportStore(std::unique_ptr<sqlite::Connection> db, int64_t max_rows);
  std::mutex mu_;
  std::unique_ptr<sqlite::Connection> db_;
  int64_t max_rows_;
};

// What a send at unix time `now` reports: the rows of days before the returned day number,
// or 0 when nothing is due. A request (`ternctl dmarc report --send-now`) reports everything
// up to now; the daily send runs once per UTC day (last_send_day, kept in the db, says whether
// it ran: a restart neither skips nor repeats a day), from send_hour on, for the finished days.
int64_t report_cutoff(int64_t now, int send_hour, int64_t last_send_day, bool requested);

// meta keys
inline constexpr std::string_view kLastSendDay = "last_send_day";   // the daily send ran that day
inline constexpr std::string_view kSendRequested = "send_requested"; // ternctl: send all now
inline constexpr std::string_view kReportCounter = "report_counter";

}  // namespace tern::reports
