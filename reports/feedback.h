// reports (part of reports.h): one aggregate report: the XML of RFC 7489 Appendix C, gzip'd,
// in a message whose file name and subject follow §7.2.1.1. Pure (zlib).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "reports/row.h"

namespace tern::reports {

struct CountedRow {
  Row row;
  int64_t count = 0;
};

struct ReportMeta {
  std::string org_name;   // report_metadata/org_name
  std::string email;      // report_metadata/email (our From address)
  std::string report_id;  // unique per report ("id-left@id-right": the subject's msg-id)
  int64_t begin = 0;      // date_range, unix seconds (inclusive)
  int64_t end = 0;
};

// RFC 7489 Appendix C: <feedback> with version, report_metadata, policy_published and one
// <record> per row. Text is XML-escaped; control characters (invalid in XML 1.0) dropped.
std::string feedback_xml(const ReportMeta& meta, const PublishedPolicy& policy,
                         const std::vector<CountedRow>& rows);

// RFC 1952 gzip of `data` (zlib). Errc::internal on a zlib failure.
Result<std::string> gzip(std::string_view data);

// §7.2.1.1: "receiver!policy-domain!begin-timestamp!end-timestamp.xml.gz".
std::string report_filename(std::string_view receiver, std::string_view policy_domain,
                            int64_t begin, int64_t end);
// §7.2.1.1: "Report Domain: <policy-domain> Submitter: <receiver> Report-ID: <report-id>".
std::string report_subject(std::string_view policy_domain, std::string_view submitter,
                           std::string_view report_id);

struct ReportMessage {
  std::string from;        // our address
  std::string to;          // the destination
  std::string receiver;    // our domain: the file name's receiver, the subject's Submitter
  std::string policy_domain;
  ReportMeta meta;
  std::string gzipped;     // the gzip'd XML
  int64_t now = 0;         // Date:
  std::string boundary;    // MIME boundary (random, caller's)
  std::string message_id;  // "<...>"
};

// The RFC 5322 message (CRLF): multipart/mixed, a text/plain summary and the report as an
// application/gzip attachment (§7.2.1.1) named report_filename(), base64 in 76-column lines.
std::string compose_report(const ReportMessage& m);

}  // namespace tern::reports
