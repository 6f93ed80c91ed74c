// ternctl dmarc report --show | --send-now: the DMARC aggregate report rows ternd recorded
// (data_dir/dmarc_reports.db, reports/report_store.h) and sending their reports now.
// --send-now only sets a request in the db and signals ternd (SIGUSR1), which sends through
// its relay queue (DKIM signing, the RFC 7489 §7.1 DNS check) as for the daily send; a ternd
// that is not running sends at its next start.
#include <cstdint>
#include <iostream>
#include <limits>

#include "common/strings.h"
#include "ctl/commands.h"
#include "reports/reports.h"

namespace tern::ctl {

namespace {

Result<std::unique_ptr<reports::ReportStore>> open_reports(Context& c) {
  auto cfg = c.config();
  if (!cfg) return cfg.error();
  return reports::ReportStore::open((*cfg)->data_dir + "/dmarc_reports.db",
                                    (*cfg)->dmarc_reports.max_rows_per_domain);
}

std::string auth_text(const reports::Row& r) {
  std::string out;
  for (const auto& k : r.dkim_results)
    out += (out.empty() ? "" : ",") + ("dkim:" + k.domain + "/" + k.selector + "=" + k.result);
  for (const auto& s : r.spf_results)
    out += (out.empty() ? "" : ",") + ("spf:" + s.domain + "/" + s.scope + "=" + s.result);
  return out.empty() ? "-" : out;
}

int show(Context& c) {
  auto store = open_reports(c);
  if (!store) return fail(store.error());
  auto all = (*store)->pending(std::numeric_limits<int64_t>::max());
  if (!all) return fail(all.error());
  for (const auto& d : *all) {
    std::string rua;
    for (const auto& u : d.policy.rua) rua += (rua.empty() ? "" : ",") + u;
    // One line per domain, then one indented line per row; fields tab-separated.
    std::cout << d.policy.domain << "\tfrom=" << rfc5322_date(d.first_day * reports::kDay)
              << "\trows=" << d.rows.size() << "\tmessages=" << d.messages() << "\tp=" << d.policy.p
              << "\trua=" << rua << '\n';
    for (const auto& [r, count] : d.rows)
      std::cout << '\t' << r.source_ip << "\tcount=" << count << "\tdisposition=" << r.disposition
                << "\tdkim=" << r.dkim << "\tspf=" << r.spf << "\theader_from=" << r.header_from
                << "\tenvelope_from=" << (r.envelope_from.empty() ? "-" : r.envelope_from)
                << "\t" << auth_text(r) << '\n';
  }
  return kExitOk;
}

int send_now(Context& c) {
  auto store = open_reports(c);
  if (!store) return fail(store.error());
  if (auto st = (*store)->set_meta(reports::kSendRequested, 1); !st) return fail(st.error());
  std::cout << "reports requested; "
            << signal_daemon((*c.config())->data_dir, "it looks within a minute") << '\n';
  return kExitOk;
}

}  // namespace

void register_dmarc_commands(CLI::App& app, Context& ctx) {
  CLI::App* dmarc = app.add_subcommand("dmarc", "DMARC aggregate reports (RFC 7489 7.2)");
  dmarc->require_subcommand(1);
  CLI::App* report = dmarc->add_subcommand(
      "report", "--show: the rows waiting for their report; --send-now: send every pending report now");
  auto flags = std::make_shared<std::pair<bool, bool>>();
  auto* show_opt = report->add_flag("--show", flags->first, "print the pending rows per policy domain");
  report->add_flag("--send-now", flags->second, "ask ternd to send the reports of every pending row now")
      ->excludes(show_opt);
  report->callback([&ctx, flags] {
    if (!flags->first && !flags->second) throw CLI::ValidationError("dmarc report", "give --show or --send-now");
    ctx.action = flags->second ? send_now : show;
  });
}

}  // namespace tern::ctl
