// reports: DMARC aggregate reports (RFC 7489 §7.2, with the external destination check of
// §7.1; DMARCbis where it is clearer) about the mail our MX listener received.
//
//   row.h           - what one evaluated message contributes (a Row of Appendix C's
//                     RecordType and the domain's published policy), made from the sender
//                     checks' verdicts; the in-memory Aggregator (identical rows counted). Pure.
//   report_store.h  - data_dir/dmarc_reports.db: the aggregated rows per policy domain and
//                     UTC day, the last policy seen, the send state. Blocking (workers).
//   feedback.h      - the report itself: Appendix C XML, gzip, the §7.2.1.1 file name and
//                     subject, the MIME message. Pure (zlib for gzip).
//   destination.h   - rua= URIs (§6.2: mailto only, "!size" limits) and the §7.1 decision:
//                     which TXT record must authorise an external destination. Pure.
//
// Implementation notes
// - ternd (daemon/dmarc_reports.h) records on the loop thread into an Aggregator and writes
//   the batch once a second on a worker: no fsync per message on the delivery path. The db is
//   WAL with synchronous=NORMAL: a crash may lose the last second of rows (a report that
//   counts a few messages less), never corrupt it.
// - Rows are bounded per policy domain and day (dmarc_reports.max_rows_per_domain): an
//   attacker sending from many addresses cannot grow the table without limit.
// - The daily send reads every row of days before today (restart-safe: unsent rows stay in
//   the db until their report is queued, then they are deleted).
// - The organizational domain (§3.2) comes from authn's PublicSuffixList.
#pragma once

#include "reports/destination.h"
#include "reports/feedback.h"
#include "reports/report_store.h"
#include "reports/row.h"
