// FETCH / UID FETCH (RFC 9051 §6.4.5, CHANGEDSINCE and VANISHED RFC 7162 §3.1.4, §3.2.6) and
// SEARCH / UID SEARCH (RFC 9051 §6.4.4, ESEARCH RFC 4731, SEARCHRES RFC 5182). The
// rendering and matching themselves live in fetch.cpp / search.cpp; this file picks the
// messages, applies the implicit \Seen, caches computed metadata and shapes the responses.
#include <algorithm>
#include <iterator>
#include <optional>

#include "common/strings.h"
#include "imapd/esearch.h"
#include "imapd/fetch.h"
#include "imapd/search.h"
#include "imapd/session_impl.h"

namespace tern::imapd {

namespace {

const store::MessageInfo* find_info(const std::vector<store::MessageInfo>& v, uint32_t uid) {
  auto it = std::lower_bound(v.begin(), v.end(), uid,
                             [](const store::MessageInfo& m, uint32_t u) { return m.uid < u; });
  return it != v.end() && it->uid == uid ? &*it : nullptr;
}

// Cap on the output reserved ahead of a FETCH (the response may still grow past it).
constexpr uint64_t kMaxReserve = 64ull << 20;
// Metadata computed during one FETCH/SEARCH is cached in index commits of this many messages.
constexpr size_t kMetadataBatch = 1000;
// Per message beyond its metadata and bytes: the FETCH line's items, and the slack
// write_literal() reserves after a body (so that it does not reallocate).
constexpr uint64_t kReservePerMessage = 320;
// Streaming: a chunk is handed over once past the threshold, so it holds up to the
// threshold plus one message's line (more for a big body, which then grows the buffer).
constexpr uint64_t kStreamSlack = 16 * 1024;

bool uses_modseq(const SearchKey& k) {
  if (k.kind == SearchKey::Kind::modseq) return true;
  for (const auto& c : k.children)
    if (uses_modseq(c)) return true;
  return false;
}

}  // namespace

void Session::Impl::cmd_fetch(const Command& c) {
  const auto& a = c.as<FetchArgs>();
  auto idx = resolve(a.set, c.uid);
  if (!idx) return bad(c.tag, idx.error().message);
  // RFC 7162 §3.2.6: VANISHED only in UID FETCH with CHANGEDSINCE, once QRESYNC is enabled.
  if (a.vanished && (!c.uid || !qresync || !a.changed_since))
    return bad(c.tag, "VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC");
  // RFC 7162 §3.1: CHANGEDSINCE and the MODSEQ item are CONDSTORE enabling.
  bool enabling = a.changed_since.has_value();
  for (const auto& it : a.items) enabling |= it.kind == FetchItem::Kind::modseq;
  if (enabling) enable_condstore();

  std::vector<uint32_t> wanted;
  wanted.reserve(idx->size());
  for (size_t i : *idx) wanted.push_back(sel->uid_at(i));
  // Items that send message bytes: the rows come with their file paths, so each message is
  // read with no second index lookup (Store::read_message by handle falls back when a file moved).
  const bool needs_bytes = fetch_needs_bytes(a.items);
  const bool wants_meta = fetch_wants_metadata(a.items);
  std::vector<std::string> paths;
  auto fetched = backend.store().messages(sel->owner, sel->name, wanted, needs_bytes ? &paths : nullptr, wants_meta);
  if (!fetched) return store_error(c.tag, fetched.error());
  auto& infos = *fetched;

  if (a.vanished) {
    auto ch = backend.store().changes_since(sel->owner, sel->name, *a.changed_since);
    if (ch) {
      std::vector<uint32_t> gone;
      for (uint32_t u : ch->vanished)
        if (a.set.contains(u, sel->uidnext > 0 ? sel->uidnext - 1 : 0)) gone.push_back(u);
      if (!gone.empty()) untagged("VANISHED (EARLIER) " + SequenceSet::from_values(gone).to_string());
    }
  }

  // Which messages: those still present and (CHANGEDSINCE) changed after the given modseq.
  std::vector<std::pair<size_t, store::MessageInfo*>> todo;
  bool expunged = false;  // some message of the set is gone (expunged by another session)
  for (size_t i : *idx) {
    auto* info = const_cast<store::MessageInfo*>(find_info(infos, sel->uid_at(i)));
    if (!info) {
      // Expunged by someone else, not announced yet (RFC 9051 §7.5.1). Their watch may not
      // have fired yet (it runs after the store lock is released): mark the mailbox dirty so
      // the sync after this command takes the expunge in, and a UID FETCH that left the
      // message out also says why (EXPUNGE/VANISHED) in the same response.
      sel->dirty->store(true);
      expunged = true;
      continue;
    }
    if (a.changed_since && info->modseq <= *a.changed_since) continue;
    // RFC 3501 §7.2.6: a keyword another session set is announced before FETCH shows it.
    announce_keywords(info->flags.keywords);
    todo.emplace_back(i, info);
  }
  if (a.partial) {
    // RFC 9394 §3.2: PARTIAL picks, by position, from the messages the set (and
    // CHANGEDSINCE) leave, counted in UID order; a negative range counts from the highest.
    auto [b, e] = partial_slice(*a.partial, todo.size());
    todo.erase(todo.begin() + static_cast<std::ptrdiff_t>(e), todo.end());
    todo.erase(todo.begin(), todo.begin() + static_cast<std::ptrdiff_t>(b));
  }
  // paths[j] is the file of infos[j] (when listed).
  auto path_of = [&](const store::MessageInfo* info) -> const std::string* {
    if (paths.size() != infos.size()) return nullptr;
    return &paths[static_cast<size_t>(info - infos.data())];
  };

  // RFC 9051 §6.4.5: BODY[...] without PEEK sets \Seen; the FETCH then includes FLAGS.
  std::vector<char> seen_set(todo.size(), 0);
  // RFC 4314 §4: without "s" the implicit \Seen is not set (the FETCH still succeeds).
  if (!sel->read_only && (sel->rights & store::acl::kSeen) && fetch_sets_seen(a.items)) {
    std::vector<uint32_t> unseen;
    for (const auto& [i, info] : todo)
      if (!(info->flags.system & store::kSeen)) unseen.push_back(info->uid);
    if (!unseen.empty()) {
      store::Flags seen;
      seen.system = store::kSeen;
      auto r = backend.store().store_flags(sel->owner, sel->name, unseen, store::FlagOp::add, seen);
      if (r) {
        for (const auto& u : r->updated) {
          for (size_t k = 0; k < todo.size(); ++k) {
            if (todo[k].second->uid != u.uid) continue;
            todo[k].second->flags = u.flags;
            todo[k].second->modseq = u.modseq;
            seen_set[k] = 1;
            sel->shown(u.uid, u.modseq);
          }
        }
      }
    }
  }

  FetchContext ctx;
  ctx.utf8_accept = utf8_accept;
  ctx.imap4rev2 = imap4rev2;
  ctx.condstore = condstore;
  ctx.uid_command = c.uid;
  // The response is built in one string: reserve what it will roughly take (rows' metadata
  // and sizes) so that a FETCH 1:* of a large mailbox is not grown by doubling copies.
  // Reserved but unwritten pages of a large buffer are never touched.
  uint64_t estimate = 0;
  for (const auto& [i, info] : todo)
    estimate += kReservePerMessage + (wants_meta ? info->cached_metadata.size() : 0) + (needs_bytes ? info->size : 0);
  // Streamed output goes in chunks of about the threshold: no more is reserved at a time.
  const uint64_t chunk = settings.stream_threshold ? settings.stream_threshold + kStreamSlack : kMaxReserve;
  out.bytes.reserve(out.bytes.size() + static_cast<size_t>(std::min(estimate, chunk)));

  const std::string& name = sel->name;
  const std::vector<std::string> names = response_names(a.items);
  std::vector<std::pair<uint32_t, std::string>> computed;  // metadata to cache
  for (size_t k = 0; k < todo.size(); ++k) {
    auto [i, info] = todo[k];
    uint32_t uid = info->uid;
    // Setting \Seen renamed the file (new/X -> cur/X:2,S): look it up again.
    const std::string* path = seen_set[k] ? nullptr : path_of(info);
    MessageView view(static_cast<uint32_t>(i + 1), std::move(*info), [this, &name, uid, path]() {
      return backend.store().read_message(sel->owner, name, store::Store::MessageFile{uid, 0, path ? *path : ""});
    });
    ctx.include_flags = seen_set[k] != 0;
    ctx.recent = sel->is_recent(uid);
    // Rendered straight into the output: a body is copied once, file bytes -> response.
    auto r = render_fetch_into(out.bytes, a.items, names, view, ctx);
    if (!r) {
      // RFC 3516 §4.2: a part whose Content-Transfer-Encoding we cannot decode.
      if (is_unknown_cte(r.error()))
        return no(c.tag, "Unknown Content-Transfer-Encoding", ResponseCode{code::UnknownCte, ""});
      // The file went away under us: expunged by another session after the rows were
      // listed. RFC 2180 §4.1 / RFC 9051 §7.4.1: the FETCH still succeeds with what can be
      // returned, here the items the row already gave (UID, FLAGS, sizes, cached ENVELOPE
      // and BODYSTRUCTURE), and the expunge is announced at the next point that allows it.
      expunged = true;
      sel->dirty->store(true);
      std::vector<FetchItem> known = items_without_bytes(a.items, view.info());
      if (!known.empty()) (void)render_fetch_into(out.bytes, known, response_names(known), view, ctx);
      continue;
    }
    // ENVELOPE/BODYSTRUCTURE computed from the bytes: cache them so the next FETCH reads no
    // message file (the "computed once"), stored together at the end (or every
    // kMetadataBatch messages) in one index commit.
    if (auto blob = view.computed_metadata_blob()) {
      computed.emplace_back(uid, std::move(*blob));
      if (computed.size() >= kMetadataBatch) {
        (void)backend.store().set_cached_metadata(sel->owner, name, computed);
        computed.clear();
      }
    }
    if (stream_if_large()) out.bytes.reserve(static_cast<size_t>(std::min(estimate, chunk)));
  }
  (void)backend.store().set_cached_metadata(sel->owner, name, computed);
  // RFC 5530 §3: EXPUNGEISSUED on the tagged OK tells why some data is missing; clients
  // take the FETCH as successful (a NO made them drop the whole response).
  if (expunged)
    return ok(c.tag, "Some messages were expunged meanwhile",
              ResponseCode{code::ExpungeIssued, ""});
  ok(c.tag, c.uid ? "UID FETCH completed" : "FETCH completed");
}

void Session::Impl::cmd_search(const Command& c) {
  const auto& a = c.as<SearchArgs>();
  SearchReturn ret;
  bool esearch = imap4rev2 || a.return_options.has_value();
  if (a.return_options) ret = *a.return_options;
  // RETURN () = ALL; CONTEXT and UPDATE (RFC 5267 §4) ask for no data themselves.
  if (!ret.min && !ret.max && !ret.all && !ret.count && !ret.save && !ret.partial) ret.all = true;
  std::string charset = a.charset.value_or("UTF-8");
  // RFC 9051 §6.4.4: US-ASCII and UTF-8 are required; anything else is NO [BADCHARSET].
  if (!iequals(charset, "UTF-8") && !iequals(charset, "US-ASCII")) {
    if (ret.save) saved_uids.clear();  // RFC 5182 §2.1: a failed SAVE empties "$"
    return no(c.tag, "Unsupported charset", ResponseCode{code::BadCharset, "(US-ASCII UTF-8)"});
  }
  bool modseq_key = uses_modseq(a.key);
  if (ret.update && !live_tag_free(c)) return;
  if (modseq_key) enable_condstore();  // RFC 7162 §3.1: SEARCH MODSEQ is enabling

  std::vector<uint32_t> uids;
  SearchResult result;
  result.report_modseq = modseq_key;
  Status st = for_each_match(a.key, charset, [&](MessageView& view) -> Status {
    result.values.push_back(c.uid ? view.info().uid : view.seq());
    uids.push_back(view.info().uid);
    result.modseqs.push_back(view.info().modseq);
    return {};
  });
  if (!st) return store_error(c.tag, st.error());

  if (ret.save) {
    // RFC 5182 §2.4: with MIN and/or MAX (and neither ALL nor COUNT) only those are saved;
    // PARTIAL (RFC 9394) likewise saves only the messages it returns.
    if (!ret.all && !ret.count && (ret.min || ret.max || ret.partial) && !uids.empty()) {
      saved_uids.clear();
      if (ret.partial) {
        auto [b, e] = partial_slice(*ret.partial, uids.size());
        saved_uids.assign(uids.begin() + static_cast<std::ptrdiff_t>(b), uids.begin() + static_cast<std::ptrdiff_t>(e));
      }
      if (ret.min) saved_uids.push_back(uids.front());
      if (ret.max) saved_uids.push_back(uids.back());
      std::sort(saved_uids.begin(), saved_uids.end());
      saved_uids.erase(std::unique(saved_uids.begin(), saved_uids.end()), saved_uids.end());
    } else {
      saved_uids = uids;
    }
    if (uids.empty()) saved_uids.clear();
  }

  if (esearch) {
    // RFC 4731 §3.1: SAVE alone returns no ESEARCH response (RFC 5182 §2.4).
    if (!(ret.save && !ret.min && !ret.max && !ret.all && !ret.count && !ret.partial)) {
      std::string tag;
      write_string(tag, c.tag, wopt());
      untagged(esearch_line(tag, c.uid, ret, result));
    }
    if (ret.update) {
      SearchArgs live_args = a;
      live_args.charset = charset;
      start_live(c, false, live_args, {}, ret, std::move(uids));
    }
  } else {
    untagged(classic_result_line("SEARCH", result));
  }
  ok(c.tag, c.uid ? "UID SEARCH completed" : "SEARCH completed");
}

std::optional<std::vector<uint32_t>> Session::Impl::index_candidates(
    const SearchKey& key, const std::string& charset, const std::vector<store::MessageInfo>& messages) {
  std::optional<std::vector<uint32_t>> out;
  for (const IndexNeedle& n : index_needles(key, charset)) {
    // Too short for the trigram index (Errc::syntax), or no index: these messages are read.
    auto r = backend.store().fts_search(sel->owner, sel->name, n.body_only, n.needle);
    if (!r || !r->available) continue;
    // The index's matches, and every message it has no row for yet (stored a moment ago,
    // or before a crash): those are read and checked like any other.
    std::vector<uint32_t> c = std::move(r->matches);
    for (const auto& m : messages)
      if (!std::binary_search(r->indexed.begin(), r->indexed.end(), m.uid)) c.push_back(m.uid);
    std::sort(c.begin(), c.end());
    if (out) {
      std::vector<uint32_t> both;
      std::set_intersection(out->begin(), out->end(), c.begin(), c.end(), std::back_inserter(both));
      c = std::move(both);
    }
    out = std::move(c);
  }
  return out;
}

Status Session::Impl::for_each_match(const SearchKey& key, const std::string& charset,
                                     const std::function<Status(MessageView&)>& on_match) {
  // SEARCH matches flags, sizes, dates and (parsed) bytes, never the cached metadata.
  auto snap = backend.store().snapshot_flags(sel->owner, sel->name);
  if (!snap) return snap.error();
  SearchContext ctx;
  ctx.max_seq = sel->count();
  ctx.max_uid = sel->max_uid();
  std::vector<uint32_t> saved = saved_uids;
  std::sort(saved.begin(), saved.end());
  ctx.saved_uids = &saved;
  ctx.charset = ascii_upper(charset);
  ctx.now = backend.now();
  if (!sel->recent.empty()) ctx.is_recent = [s = &*sel](uint32_t uid) { return s->is_recent(uid); };

  std::string name = sel->name;
  const auto candidates = index_candidates(key, charset, snap->messages);
  std::vector<std::pair<uint32_t, std::string>> computed;  // metadata to cache
  for (size_t i = 0; i < sel->count(); ++i) {
    const store::MessageInfo* info = find_info(snap->messages, sel->uid_at(i));
    if (!info) {
      sel->dirty->store(true);  // expunged elsewhere: see cmd_fetch
      continue;
    }
    uint32_t uid = info->uid;
    if (candidates && !std::binary_search(candidates->begin(), candidates->end(), uid)) continue;
    MessageView view(static_cast<uint32_t>(i + 1), *info,
                     [this, name, uid]() { return backend.store().read_message(sel->owner, name, uid); });
    auto m = search_matches(key, view, ctx);
    if (!m || !*m) continue;
    if (Status st = on_match(view); !st) return st;
    if (auto blob = view.computed_metadata_blob()) {
      computed.emplace_back(uid, std::move(*blob));
      if (computed.size() >= kMetadataBatch) {
        (void)backend.store().set_cached_metadata(sel->owner, name, computed);
        computed.clear();
      }
    }
  }
  (void)backend.store().set_cached_metadata(sel->owner, name, computed);
  return {};
}

}  // namespace tern::imapd
