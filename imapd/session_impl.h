// Private to imapd/: the state behind Session and the command handlers, split across
// session.cpp (framing, dispatch, errors), session_sync.cpp (sequence map and untagged
// updates) and commands_*.cpp (one file per command family).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "auth/sasl.h"
#include "store/acl.h"
#include "imapd/imap_parser.h"
#include "imapd/live_search.h"
#include "imapd/message_view.h"
#include "imapd/notify.h"
#include "imapd/response_writer.h"
#include "imapd/session.h"
#include "imapd/sort.h"
#include "imapd/uid_map.h"

namespace tern::imapd {

// Response texts, named once.
namespace text {
inline constexpr std::string_view Greeting = "Tern IMAP4rev2 server ready";
inline constexpr std::string_view LoginFirst = "Log in first";
inline constexpr std::string_view AlreadyAuthenticated = "Already authenticated";
inline constexpr std::string_view NoMailboxSelected = "No mailbox selected";
inline constexpr std::string_view UnknownCommand = "Unknown command";
inline constexpr std::string_view TooManyErrors = "Too many invalid commands";
inline constexpr std::string_view Autologout = "Autologout; idle for too long";
inline constexpr std::string_view ShuttingDown = "Server shutting down";
inline constexpr std::string_view LogoutBye = "Tern IMAP server logging out";
inline constexpr std::string_view InvalidName = "Invalid mailbox name";
inline constexpr std::string_view NoSuchMailbox = "No such mailbox";
inline constexpr std::string_view ReadOnlyMailbox = "Mailbox is read-only";
inline constexpr std::string_view InvalidSeq = "Invalid message sequence number";
inline constexpr std::string_view ServerError = "Internal server error";
inline constexpr std::string_view Completed = "completed";
}  // namespace text

// The selected mailbox as this session sees it.
struct Selected {
  std::string name;  // UTF-8, canonical: the owner's name for it
  // RFC 4314 / RFC 2342: whose mailbox it is (the session's user, or another user who shared
  // it: then the client calls it "#shared/<owner>/<name>", `view`) and what this user may do.
  std::string owner;
  std::string view;
  uint32_t rights = store::acl::kAll;
  uint64_t acl_version = 0;  // Store::acl_version() read before `rights` was
  bool read_only = false;
  uint32_t uidvalidity = 0;
  uint32_t uidnext = 1;
  std::string mailbox_id;         // RFC 8474 MAILBOXID
  UidMap uids;                    // seq - 1 -> UID, as runs of consecutive UIDs
  uint64_t known_modseq = 0;      // changes up to here have been taken into account
  // Messages this session already showed at a modseq above known_modseq (its own STORE or
  // implicit \Seen): sync() does not announce those changes again. Pruned as known_modseq
  // passes them, so an idle session holds no per-message state.
  std::map<uint32_t, uint64_t> shown_modseq;
  std::vector<uint32_t> pending_expunge;  // expunged elsewhere, not yet announced (sorted)
  std::vector<std::string> keywords;      // announced in FLAGS
  std::vector<LiveSearch> live;           // RFC 5267 §4: searches made with RETURN (UPDATE)
  uint32_t first_unseen = 0;              // at SELECT time (rev1 [UNSEEN n]); 0 = none
  // RFC 3501 §2.3.2: UIDs that are \Recent for this session, as [first, end) ranges (claimed
  // from the store by a rev1 SELECT, seen without claiming by EXAMINE). Empty in rev2.
  std::vector<std::pair<uint32_t, uint32_t>> recent;
  std::shared_ptr<std::atomic<bool>> dirty = std::make_shared<std::atomic<bool>>(false);
  store::WatchHandle watch;

  bool is_recent(uint32_t uid) const {
    for (const auto& [first, end] : recent)
      if (uid >= first && uid < end) return true;
    return false;
  }
  uint32_t recent_count() const {
    uint32_t n = 0;
    for (const auto& [first, end] : recent)
      for (uint32_t u = first; u < end; ++u) n += index_of(u) >= 0;
    return n;
  }
  uint32_t max_uid() const { return uids.max_uid(); }
  uint32_t count() const { return uids.count(); }
  // Index of uid in uids, or -1.
  long index_of(uint32_t uid) const { return uids.index_of(uid); }
  uint32_t uid_at(size_t index) const { return uids.uid_at(index); }
  // This session showed uid's flags at `modseq` (a change made by this session).
  void shown(uint32_t uid, uint64_t modseq) {
    if (modseq <= known_modseq) return;
    uint64_t& m = shown_modseq[uid];
    if (modseq > m) m = modseq;
  }
};

struct Session::Impl {
  Impl(const SessionSettings& s, const PeerInfo& p, Backend& b);

  SessionSettings settings;
  PeerInfo peer;
  Backend& backend;

  State state = State::not_authenticated;
  CommandParser parser;
  std::string user;
  bool tls = false;
  bool compressed = false;  // COMPRESS=DEFLATE active (RFC 4978)
  int errors = 0;

  // Extensions the client enabled (RFC 5161).
  bool imap4rev2 = false;
  bool utf8_accept = false;
  bool condstore = false;
  bool qresync = false;

  // Modes in which raw lines, not commands, are read.
  enum class Mode { commands, idle, sasl, starttls, closed };
  Mode mode = Mode::commands;
  std::string mode_tag;  // the IDLE / AUTHENTICATE tag
  auth::SaslExchange sasl;

  std::optional<Selected> sel;
  std::vector<uint32_t> saved_uids;  // SEARCH SAVE result (RFC 5182), UIDs

  // Raw bytes of the command being parsed (first kRawHeadMax bytes), for commands the
  // parser does not know (GETQUOTA, GETQUOTAROOT, SETQUOTA).
  static constexpr size_t kRawHeadMax = 8192;
  std::string raw_head;
  std::string raw_unconsumed;  // fed to the parser, not yet consumed

  Output out;              // accumulated by the handlers
  std::string tagged_out;  // the current command's tagged answer (after untagged updates)
  void flush() {
    out.bytes += tagged_out;
    tagged_out.clear();
  }
  // Streaming (SessionSettings::stream_threshold): hands out.bytes to the backend once it
  // has passed the threshold; true when it did. Never with a close, STARTTLS or login delay
  // pending in `out` (those govern when its bytes may be written).
  bool stream_if_large() {
    if (settings.stream_threshold == 0 || out.bytes.size() < settings.stream_threshold) return false;
    if (out.close_after_write || out.start_tls || out.delay_ms > 0) return false;
    backend.write_partial(std::exchange(out.bytes, std::string()));
    return true;
  }

  // ---- session.cpp ----
  void feed_parser(std::string_view bytes);
  void release_idle_buffers();
  void run();
  void track_consumed();
  void execute(const Command& cmd);
  void on_parse_error(const ParseError& e);
  void on_literal_request(const LiteralRequest& lit);
  void bad(std::string_view tag, std::string_view msg,
           const std::optional<ResponseCode>& rc = std::nullopt);
  void ok(std::string_view tag, std::string_view msg,
          const std::optional<ResponseCode>& rc = std::nullopt);
  void no(std::string_view tag, std::string_view msg,
          const std::optional<ResponseCode>& rc = std::nullopt);
  void untagged(std::string_view line) { out.bytes += imapd::untagged(line); }
  void bye(std::string_view msg);
  void store_error(std::string_view tag, const Error& e, bool trycreate = false);
  std::string capabilities() const;
  WriterOptions wopt() const { return WriterOptions{imap4rev2 || utf8_accept}; }
  bool login_allowed() const { return tls || settings.allow_plaintext_auth; }
  // Wire mailbox name -> UTF-8 (nullopt: invalid).
  std::optional<std::string> decode_mailbox(std::string_view wire) const;

  // ---- commands_auth.cpp ----
  void cmd_capability(const Command& c);
  void cmd_noop(const Command& c);
  void cmd_logout(const Command& c);
  void cmd_id(const Command& c);
  void cmd_starttls(const Command& c);
  void cmd_login(const Command& c);
  void cmd_authenticate(const Command& c);
  void cmd_unauthenticate(const Command& c);
  void cmd_compress(const Command& c);
  void sasl_line(const std::string& line);
  void finish_login(std::string_view tag, std::string_view user, std::string_view password);
  void login_answer(std::string_view tag, const auth::LoginResult& r);
  void sasl_answer(auth::SaslStep step);
  void cmd_enable(const Command& c);
  void idle_line(const std::string& line);
  void cmd_idle(const Command& c);

  // ---- commands_mailbox.cpp ----
  void cmd_select(const Command& c);
  void cmd_create(const Command& c);
  void cmd_delete(const Command& c);
  void cmd_rename(const Command& c);
  void cmd_subscribe(const Command& c, bool on);
  void cmd_status(const Command& c);
  void cmd_namespace(const Command& c);
  void cmd_append(const Command& c);
  // RFC 4469: the message an APPEND ... CATENATE composes into `out`; false after answering
  // the command (NO [BADURL], NO [TOOBIG], BAD).
  bool compose_catenate(std::string_view tag, const AppendMessage& m, std::string& out);
  void cmd_quota(const Command& c, std::string_view name);
  std::string status_line(const store::MailboxStatus& st, const std::vector<StatusItem>& items,
                          std::string_view wire_name);

  // ---- commands_acl.cpp (RFC 4314 ACL, RFC 2342 shared namespace) ----
  // A mailbox as the client names it: the user's own (owner = user, every right), or another
  // user's shared one, "#shared/<owner>/<name>" (RFC 2342 §5 other users' namespace).
  struct MailboxRef {
    std::string owner;
    std::string name;  // the owner's name for it
    std::string view;  // the client's name for it
    uint32_t rights = store::acl::kAll;
    uint64_t acl_version = 0;  // Store::acl_version() read before `rights`
    bool shared() const { return !view.empty() && view != name; }
  };
  // Errc::not_found also when the user holds neither "l" nor "r" (RFC 4314 §4: the mailbox
  // must look as if it did not exist).
  Result<MailboxRef> mailbox_ref(const std::string& view);
  // NO [NOPERM] (true) unless `held` has every right of `needed`.
  bool refuse_without(std::string_view tag, uint32_t held, uint32_t needed);
  // Before each command in the selected state: the rights on a shared selected mailbox are
  // read again when an ACL changed since (Store::acl_version), and a command that reads
  // messages is refused (NO [NOPERM], false) once "r" is gone.
  bool selected_rights_allow(const Command& c);
  void cmd_acl(const Command& c, std::string_view name);
  // COPY/MOVE between different owners' mailboxes (one of them shared): appends copies.
  void copy_across(const Command& c, const MailboxRef& dest, const std::vector<uint32_t>& uids, bool move);

  // ---- commands_list.cpp ----
  void cmd_list(const Command& c);

  // ---- commands_message.cpp ----
  void cmd_close(const Command& c, bool expunge);
  void cmd_expunge(const Command& c);
  void cmd_store(const Command& c);
  // Junk-filter lessons (junk_lessons.cpp).
  void lessons_after_copy(const std::string& source, const std::string& dest, bool move,
                          const std::vector<uint32_t>& dest_uids);
  void lessons_after_store(const store::Flags& flags, store::FlagOp op,
                           const std::vector<uint32_t>& changed_uids);
  void cmd_copy(const Command& c, bool move);

  // ---- commands_fetch.cpp ----
  void cmd_fetch(const Command& c);
  void cmd_search(const Command& c);
  // The SEARCH evaluation shared with SORT/THREAD: calls on_match for every message of the
  // selected mailbox that matches, in sequence order (the view may load metadata or bytes;
  // metadata it computes is cached in the index). charset is validated by the caller.
  // Issue 18: the UIDs worth reading for `key` when the full-text index can narrow them
  // (TEXT/BODY strings of 3 characters or more), sorted; nullopt: every message.
  std::optional<std::vector<uint32_t>> index_candidates(const SearchKey& key, const std::string& charset,
                                                        const std::vector<store::MessageInfo>& messages);
  Status for_each_match(const SearchKey& key, const std::string& charset,
                        const std::function<Status(MessageView&)>& on_match);

  // ---- commands_sort.cpp ----
  void cmd_sort(const Command& c);
  // SORT's keys of the matching messages, in sequence order, with their modseqs.
  Status sort_keys(const SearchKey& key, const std::string& charset, std::vector<MessageKeys>& keys,
                   std::vector<uint64_t>& modseqs);
  // RFC 5267 §4 (imapd/commands_context.cpp).
  void cmd_cancelupdate(const Command& c);
  bool live_tag_free(const Command& c);  // false after answering BAD (tag already live)
  void start_live(const Command& c, bool sort, const SearchArgs& search, const std::vector<SortCriterion>& criteria,
                  const SearchReturn& ret, std::vector<uint32_t> uids);
  Result<std::vector<uint32_t>> live_result(const LiveSearch& ls);
  void update_live();
  void cmd_thread(const Command& c);
  void cmd_getmetadata(const Command& c);  // commands_metadata.cpp
  void cmd_setmetadata(const Command& c);

  // ---- notify.cpp (RFC 5465 NOTIFY) ----
  std::unique_ptr<NotifyState> notify;  // while NOTIFY SET is in force
  enum class NotifyReport { baseline, initial, change };
  void cmd_notify(const Command& c);
  // Other mailboxes' pending events: STATUS and LIST responses into `out`.
  void notify_deliver();
  // sync() and then MessageNew's fetch-att for the new messages (RFC 5465 §5.2).
  void sync_selected(bool allow_expunge);
  bool notify_immediate_expunge() const;
  bool notify_flag_uid() const;
  // Unsolicited FETCH of `items` for these selected-mailbox UIDs (never sets \Seen).
  void notify_fetch(const std::vector<FetchItem>& items, const std::vector<uint32_t>& uids);
  std::string notify_own_key() const;
  std::string notify_view(const std::string& owner, const std::string& name) const;
  unsigned notify_events_for(const std::string& view) const;
  void notify_status(const std::string& owner, const std::string& name, const std::string& view, unsigned events,
                     NotifyReport report);
  void notify_listing(bool emit);
  void notify_list_line(const std::string& view, std::string_view attrs, const std::string* old_name);

  // ---- session_sync.cpp ----
  // Selected-mailbox messages named by a set: indexes into sel->uids, ascending. Errors:
  // BAD for sequence numbers beyond the mailbox (RFC 9051 §9 seq-number).
  Result<std::vector<size_t>> resolve(const SequenceSet& set, bool uid) const;
  // Takes changes from the store into the map and writes untagged EXISTS / FETCH, and
  // EXPUNGE / VANISHED when allow_expunge (RFC 9051 §7.5.1).
  void sync(bool allow_expunge);
  void announce_expunged(const std::vector<uint32_t>& uids);
  void deselect();
  Status open_selected(const MailboxRef& ref, bool read_only);
  // rev1 only: takes (SELECT) or looks at (EXAMINE) the \Recent messages below uidnext.
  void note_recent(uint32_t upto);
  std::string flags_fetch(uint32_t seq, uint32_t uid, const store::Flags& f, uint64_t modseq,
                          bool with_uid) const;
  // RFC 3501 §7.2.6 / RFC 9051 §7.3.5: keywords the client has not been told of go into the
  // selected mailbox's set, announced by FLAGS (and PERMANENTFLAGS when read-write) now, so
  // call this before writing any FETCH that may carry them.
  void announce_keywords(const std::vector<std::string>& keywords);
  void write_flags_responses();
  // RFC 7162 §3.1: a CONDSTORE enabling command. The first one while a mailbox is selected
  // tells the client the HIGHESTMODSEQ it starts from.
  void enable_condstore();
};

ParserSettings parser_settings(const SessionSettings& s);
// RFC 2342: names in the shared namespace ("#shared" and below), commands_acl.cpp.
inline bool in_shared_namespace(std::string_view name) {
  return name == "#shared" || name.rfind("#shared/", 0) == 0;
}
std::vector<std::string> flags_to_list(const store::Flags& f);
// IMAP flag names -> store flags (\Recent and unknown system flags are dropped).
store::Flags list_to_flags(const std::vector<std::string>& names);
bool is_valid_keyword(std::string_view k);

}  // namespace tern::imapd
