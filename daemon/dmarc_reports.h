// daemon (private): DMARC aggregate reports in ternd ([dmarc_reports]; the pieces are
// reports/reports.h).
//
//   record()      end of DATA on the MX listener (loop thread, smtp_service.cpp): a message
//                 whose DMARC was evaluated against a record with rua= becomes a row in an
//                 in-memory Aggregator; a 1 s timer hands the batch to a worker, which adds
//                 it to data_dir/dmarc_reports.db in one transaction (no fsync per message;
//                 a crash loses at most that second of rows)
//   check()       a loop timer (every 60 s) and SIGUSR1 (`ternctl dmarc report --send-now`
//                 sets a flag in the db, then signals): on a worker, is it the daily send
//                 (send_hour_utc reached, not yet run today; state in the db, so a restart
//                 neither skips nor repeats a day) or a request? Then every policy domain's
//                 rows of the days before today (a request: all rows)
//   destinations  on the loop: the rua= mailto: URIs, and for those outside the policy
//                 domain's organizational domain the §7.1 TXT lookup through ternd's DNS cache
//   send          on a worker: the XML, gzip, one message per authorised destination within
//                 its "!size", queued through the relay (Runtime::enqueue_remote: DKIM-signed
//                 with the From domain's keys); then the domain's rows are deleted. A DNS
//                 temperror keeps them for the next run.
// Only MX mail is recorded: submission and authenticated clients have no DMARC verdict.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <utility>

#include "authn/auth_results.h"
#include "common/result.h"
#include "daemon/runtime.h"
#include "reports/reports.h"

namespace tern::smtpd {
struct Envelope;
}  // namespace tern::smtpd

namespace tern::daemon {

class DmarcReporter : public std::enable_shared_from_this<DmarcReporter> {
 public:
  // Null (no error) when reports are off: dmarc_reports.enabled = false, "auto" without a DKIM
  // key for the From domain, or inbound_auth.dmarc = "off". Loop thread, after
  // start_inbound_checks and start_relay_service (reports leave through the relay).
  static Result<std::shared_ptr<DmarcReporter>> start(Runtime& rt);
  ~DmarcReporter();

  // Loop thread: one message the MX listener evaluated (its reported verdicts).
  void record(const authn::AuthVerdicts& verdicts, const smtpd::Envelope& envelope);
  // Loop thread: sends what is due now (see the header notes).
  void check();

  const std::string& from() const { return from_; }

  struct Private;

 private:
  DmarcReporter(Runtime& rt, std::unique_ptr<reports::ReportStore> store, std::string from);
  void flush();

  Runtime& rt_;
  std::shared_ptr<reports::ReportStore> store_;
  std::string from_, receiver_;
  reports::Aggregator batch_;
  std::unique_ptr<net::Timer> flush_timer_, check_timer_;
  std::unique_ptr<net::SignalWatcher> sigusr1_;
  std::set<std::pair<std::string, int64_t>> capped_;  // (domain, day) already logged
  bool running_ = false;   // a send is under way
  bool again_ = false;     // check() asked meanwhile
};

// The default From of the reports: noreply-dmarc@<organizational domain of hostname>.
std::string default_report_from(const std::string& hostname, const authn::PublicSuffixList& psl);

}  // namespace tern::daemon
