// SORT / UID SORT and THREAD / UID THREAD (RFC 5256), ESORT (RFC 5267 §3), DISPLAYFROM /
// DISPLAYTO (RFC 5957). The messages are chosen by the SEARCH evaluation (for_each_match);
// keys come from the cached ENVELOPE (imapd/sort.h), so SORT reads no message bytes once the
// metadata is cached. THREAD=REFERENCES reads each matching message for its References field.

#include "common/strings.h"
#include "imapd/esearch.h"
#include "imapd/session_impl.h"
#include "imapd/sort.h"

namespace tern::imapd {

namespace {

bool uses_modseq(const SearchKey& k) {
  if (k.kind == SearchKey::Kind::modseq) return true;
  for (const auto& c : k.children)
    if (uses_modseq(c)) return true;
  return false;
}

}  // namespace

void Session::Impl::cmd_sort(const Command& c) {
  const auto& a = c.as<SortArgs>();
  const std::string& charset = *a.search.charset;
  // RFC 5256 §3: US-ASCII and UTF-8 are required; others get NO [BADCHARSET].
  if (!iequals(charset, "UTF-8") && !iequals(charset, "US-ASCII"))
    return no(c.tag, "Unsupported charset", ResponseCode{code::BadCharset, "(US-ASCII UTF-8)"});
  bool modseq_key = uses_modseq(a.search.key);
  if (modseq_key) enable_condstore();  // RFC 7162 §3.1: SORT with MODSEQ is enabling

  if (a.return_options && a.return_options->update && !live_tag_free(c)) return;

  std::vector<MessageKeys> keys;
  std::vector<uint64_t> modseqs;  // of each match, in sequence order
  Status st = sort_keys(a.search.key, charset, keys, modseqs);
  if (!st) return store_error(c.tag, st.error());
  SearchResult result;
  result.sort_order = true;
  result.report_modseq = modseq_key;
  for (size_t i : sort_order(keys, a.criteria)) {
    result.values.push_back(c.uid ? keys[i].uid : keys[i].seq);
    result.modseqs.push_back(modseqs[i]);
  }

  if (a.return_options) {
    SearchReturn ret = *a.return_options;
    // RETURN (UPDATE) or (CONTEXT) alone asks for no data of its own: ALL (RFC 4731 §3.1).
    if (!ret.min && !ret.max && !ret.count && !ret.partial) ret.all = true;
    std::string tag;
    write_string(tag, c.tag, wopt());
    untagged(esearch_line(tag, c.uid, ret, result));
    if (ret.update) {
      std::vector<uint32_t> uids;
      for (size_t i : sort_order(keys, a.criteria)) uids.push_back(keys[i].uid);
      start_live(c, true, a.search, a.criteria, ret, std::move(uids));
    }
  } else {
    untagged(classic_result_line("SORT", result));
  }
  ok(c.tag, c.uid ? "UID SORT completed" : "SORT completed");
}

Status Session::Impl::sort_keys(const SearchKey& key, const std::string& charset, std::vector<MessageKeys>& keys,
                                std::vector<uint64_t>& modseqs) {
  return for_each_match(key, charset, [&](MessageView& view) -> Status {
    EnvelopeKeys env;
    if (auto meta = view.metadata())
      if (auto parsed = parse_envelope((*meta)->envelope)) env = std::move(*parsed);
    keys.push_back(make_keys(view.seq(), view.info().uid, view.info().size, view.info().internal_date, env,
                             std::nullopt));
    modseqs.push_back(view.info().modseq);
    return {};
  });
}

void Session::Impl::cmd_thread(const Command& c) {
  const auto& a = c.as<ThreadArgs>();
  bool references = a.algorithm == "REFERENCES";
  if (!references && a.algorithm != "ORDEREDSUBJECT") return bad(c.tag, "Unknown thread algorithm");
  const std::string& charset = *a.search.charset;
  if (!iequals(charset, "UTF-8") && !iequals(charset, "US-ASCII"))
    return no(c.tag, "Unsupported charset", ResponseCode{code::BadCharset, "(US-ASCII UTF-8)"});
  if (uses_modseq(a.search.key)) enable_condstore();

  std::vector<MessageKeys> keys;
  Status st = for_each_match(a.search.key, charset, [&](MessageView& view) -> Status {
    EnvelopeKeys env;
    if (auto meta = view.metadata())
      if (auto parsed = parse_envelope((*meta)->envelope)) env = std::move(*parsed);
    std::optional<std::string> refs;
    if (references) {
      // The envelope has In-Reply-To but not References (RFC 5256 §4 REFERENCES step 1). A
      // message expunged meanwhile (file gone) is threaded by its envelope alone, as FETCH
      // still answers for it (RFC 2180 §4.1).
      if (auto p = view.parsed())
        if (const mime::HeaderField* f = (*p)->root().header("References")) refs = f->value;
    }
    keys.push_back(make_keys(view.seq(), view.info().uid, view.info().size, view.info().internal_date, env, refs));
    return {};
  });
  if (!st) return store_error(c.tag, st.error());
  std::string tree = references ? thread_references(keys, c.uid) : thread_orderedsubject(keys, c.uid);
  untagged(tree.empty() ? "THREAD" : "THREAD " + tree);
  ok(c.tag, c.uid ? "UID THREAD completed" : "THREAD completed");
}

}  // namespace tern::imapd
