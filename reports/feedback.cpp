// The aggregate report document and its message (see reports/feedback.h).
#include "reports/feedback.h"

#include <zlib.h>

#include "common/codec.h"
#include "common/strings.h"

namespace tern::reports {

namespace {

struct Xml {
  std::string out;
  int depth = 0;
  void open(std::string_view tag) {
    indent();
    out += "<" + std::string(tag) + ">\n";
    ++depth;
  }
  void close(std::string_view tag) {
    --depth;
    indent();
    out += "</" + std::string(tag) + ">\n";
  }
  void leaf(std::string_view tag, std::string_view text) {
    indent();
    out += "<" + std::string(tag) + ">" + xml_escape(text) + "</" + std::string(tag) + ">\n";
  }
  void indent() { out.append(static_cast<size_t>(depth) * 2, ' '); }
};

}  // namespace

std::string feedback_xml(const ReportMeta& meta, const PublishedPolicy& p,
                         const std::vector<CountedRow>& rows) {
  Xml x;
  x.out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x.open("feedback");
  x.leaf("version", "1.0");
  x.open("report_metadata");
  x.leaf("org_name", meta.org_name);
  x.leaf("email", meta.email);
  x.leaf("report_id", meta.report_id);
  x.open("date_range");
  x.leaf("begin", std::to_string(meta.begin));
  x.leaf("end", std::to_string(meta.end));
  x.close("date_range");
  x.close("report_metadata");
  x.open("policy_published");
  x.leaf("domain", p.domain);
  x.leaf("adkim", p.adkim);
  x.leaf("aspf", p.aspf);
  x.leaf("p", p.p);
  // RFC 7489 §6.3: sp= defaults to p=.
  x.leaf("sp", p.sp.empty() ? p.p : p.sp);
  if (!p.np.empty()) x.leaf("np", p.np);  // DMARCbis
  x.leaf("pct", std::to_string(p.pct));
  x.leaf("fo", p.fo);
  x.close("policy_published");
  for (const auto& [r, count] : rows) {
    x.open("record");
    x.open("row");
    x.leaf("source_ip", r.source_ip);
    x.leaf("count", std::to_string(count));
    x.open("policy_evaluated");
    x.leaf("disposition", r.disposition);
    x.leaf("dkim", r.dkim);
    x.leaf("spf", r.spf);
    if (!r.reason.empty()) {
      x.open("reason");
      x.leaf("type", r.reason);
      x.close("reason");
    }
    x.close("policy_evaluated");
    x.close("row");
    x.open("identifiers");
    if (!r.envelope_to.empty()) x.leaf("envelope_to", r.envelope_to);
    x.leaf("envelope_from", r.envelope_from);
    x.leaf("header_from", r.header_from);
    x.close("identifiers");
    x.open("auth_results");
    for (const auto& k : r.dkim_results) {
      x.open("dkim");
      x.leaf("domain", k.domain);
      if (!k.selector.empty()) x.leaf("selector", k.selector);
      x.leaf("result", k.result);
      x.close("dkim");
    }
    for (const auto& s : r.spf_results) {
      x.open("spf");
      x.leaf("domain", s.domain);
      x.leaf("scope", s.scope);
      x.leaf("result", s.result);
      x.close("spf");
    }
    x.close("auth_results");
    x.close("record");
  }
  x.close("feedback");
  return std::move(x.out);
}

Result<std::string> gzip(std::string_view data) {
  z_stream z{};
  // windowBits 15 + 16: a gzip wrapper (RFC 1952) instead of zlib's.
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return make_error(Errc::internal, "gzip: deflateInit2 failed");
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  size_t n = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return make_error(Errc::internal, "gzip: deflate failed");
  out.resize(n);
  return out;
}

std::string report_filename(std::string_view receiver, std::string_view policy_domain,
                            int64_t begin, int64_t end) {
  return std::string(receiver) + "!" + std::string(policy_domain) + "!" + std::to_string(begin) +
         "!" + std::to_string(end) + ".xml.gz";
}

std::string report_subject(std::string_view policy_domain, std::string_view submitter,
                           std::string_view report_id) {
  return "Report Domain: " + std::string(policy_domain) + " Submitter: " + std::string(submitter) +
         " Report-ID: <" + std::string(report_id) + ">";
}

std::string compose_report(const ReportMessage& m) {
  const std::string file = report_filename(m.receiver, m.policy_domain, m.meta.begin, m.meta.end);
  std::string out;
  out += "From: <" + m.from + ">\r\n";
  out += "To: <" + m.to + ">\r\n";
  out += "Subject: " + report_subject(m.policy_domain, m.receiver, m.meta.report_id) + "\r\n";
  out += "Date: " + rfc5322_date(m.now) + "\r\n";
  out += "Message-ID: " + m.message_id + "\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: multipart/mixed; boundary=\"" + m.boundary + "\"\r\n";
  out += "\r\n";
  out += "--" + m.boundary + "\r\n";
  out += "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
  out += "This is a DMARC aggregate report (RFC 7489) for " + m.policy_domain + " from " +
         m.receiver + ",\r\ncovering " + rfc5322_date(m.meta.begin) + " to " +
         rfc5322_date(m.meta.end) + ".\r\n";
  out += "--" + m.boundary + "\r\n";
  // §7.2.1.1: the gzip'd XML as application/gzip, named like the file.
  out += "Content-Type: application/gzip; name=\"" + file + "\"\r\n";
  out += "Content-Transfer-Encoding: base64\r\n";
  out += "Content-Disposition: attachment; filename=\"" + file + "\"\r\n\r\n";
  const std::string b64 = base64_encode(m.gzipped);
  // RFC 2045 §6.8: encoded lines of at most 76 characters.
  for (size_t i = 0; i < b64.size(); i += 76) out += b64.substr(i, 76) + "\r\n";
  out += "--" + m.boundary + "--\r\n";
  return out;
}

}  // namespace tern::reports
