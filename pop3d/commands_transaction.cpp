// pop3d TRANSACTION and UPDATE states: STAT, LIST, UIDL, RETR, TOP, DELE, RSET, QUIT.
// Message numbers are 1-based indexes into the maildrop as it was when the session entered
// TRANSACTION; deletion marks live here until QUIT turns them into a Commit.
#include <algorithm>
#include <utility>

#include "common/strings.h"
#include "pop3d/message_format.h"
#include "pop3d/pop3d.h"
#include "pop3d/replies.h"

namespace tern::pop3d {

uint64_t Session::live_count() const {
  uint64_t n = 0;
  for (const auto& m : messages_)
    if (!m.deleted) ++n;
  return n;
}

uint64_t Session::live_octets() const {
  uint64_t n = 0;
  for (const auto& m : messages_)
    if (!m.deleted) n += m.info.size_octets;
  return n;
}

std::optional<size_t> Session::message_arg(std::string_view arg) {
  auto n = parse_u64(trim(arg));
  if (!n) {
    reply_err(reply::Syntax);
    return std::nullopt;
  }
  // RFC 1939 §5: message numbers start at 1 and never refer to a deleted message.
  if (*n == 0 || *n > messages_.size()) {
    reply_err(reply::NoSuchMessage);
    return std::nullopt;
  }
  size_t index = static_cast<size_t>(*n - 1);
  if (messages_[index].deleted) {
    reply_err(reply::about_message(*n, reply::AlreadyDeleted));
    return std::nullopt;
  }
  return index;
}

bool Session::sizes_needed(std::string_view line) {
  if (sizes_known_) return false;
  std::vector<Uid> uids;
  uids.reserve(messages_.size());
  for (const auto& m : messages_) uids.push_back(m.info.uid);
  held_line_ = std::string(line);
  begin(Pending::measure_sizes, MeasureSizes{std::move(uids)});
  return true;
}

void Session::on_sizes(const SizesResult& r) {
  if (!r.ok || r.sizes.size() != messages_.size()) {
    // The held command fails; the next one that needs sizes asks again.
    return reply_err_nocount(reply::MaildropTemporary);
  }
  for (size_t i = 0; i < messages_.size(); ++i) messages_[i].info.size_octets = r.sizes[i];
  sizes_known_ = true;
}

void Session::cmd_stat() {
  // RFC 1939 §5 STAT: "+OK nn mm", deleted messages not counted.
  reply_ok(std::to_string(live_count()) + " " + std::to_string(live_octets()));
}

void Session::cmd_list(std::string_view arg) {
  if (!trim(arg).empty()) {
    auto i = message_arg(arg);
    if (!i) return;
    reply_ok(std::to_string(*i + 1) + " " + std::to_string(messages_[*i].info.size_octets));
    return;
  }
  // RFC 1939 §5 LIST: a scan listing per undeleted message, exact size in octets.
  reply_ok(reply::ScanFollows);
  for (size_t i = 0; i < messages_.size(); ++i) {
    if (messages_[i].deleted) continue;
    out_.bytes.append(std::to_string(i + 1) + " " + std::to_string(messages_[i].info.size_octets) + "\r\n");
  }
  out_.bytes.append(".\r\n");
}

void Session::cmd_uidl(std::string_view arg) {
  if (!trim(arg).empty()) {
    auto i = message_arg(arg);
    if (!i) return;
    reply_ok(std::to_string(*i + 1) + " " + messages_[*i].info.uidl);
    return;
  }
  // RFC 1939 §7 UIDL: "n unique-id" per undeleted message.
  reply_ok(reply::UidlFollows);
  for (size_t i = 0; i < messages_.size(); ++i) {
    if (messages_[i].deleted) continue;
    out_.bytes.append(std::to_string(i + 1) + " " + messages_[i].info.uidl + "\r\n");
  }
  out_.bytes.append(".\r\n");
}

void Session::cmd_retr(std::string_view arg) {
  auto i = message_arg(arg);
  if (!i) return;
  begin(Pending::retrieve, Retrieve{messages_[*i].info.uid});
  pending_->msg_index = *i;
}

void Session::cmd_top(std::string_view arg) {
  // RFC 1939 §7 TOP msg n: both arguments required; n is a non-negative number.
  auto parts = split(trim(arg), ' ');
  if (parts.size() != 2) return reply_err(reply::Syntax);
  auto lines = parse_u64(parts[1]);
  if (!lines) return reply_err(reply::Syntax);
  auto i = message_arg(parts[0]);
  if (!i) return;
  begin(Pending::retrieve, Retrieve{messages_[*i].info.uid});
  pending_->msg_index = *i;
  pending_->top = true;
  pending_->top_lines = *lines;
}

void Session::on_retrieve(const PendingAction& p, RetrieveResult& r) {
  if (r.outcome == RetrieveResult::Outcome::gone) return reply_err_nocount(reply::MessageGone);
  if (r.outcome != RetrieveResult::Outcome::ok) return reply_err_nocount(reply::MessageTemporary);
  if (p.top) {
    reply_ok(reply::TopFollows);
    if (r.wire) {
      // Every line of a wire body ends in CRLF and stuffing changes no line boundary, so
      // the same lines are cut as from the stored bytes, already in wire form.
      constexpr size_t kTerminator = 3;  // ".\r\n"
      std::string_view body = std::string_view(r.bytes).substr(std::min(r.headroom, r.bytes.size()));
      body.remove_suffix(std::min(body.size(), kTerminator));
      out_.bytes.append(detail::top_of(body, p.top_lines));
      out_.bytes.append(".\r\n");
      return;
    }
    detail::append_multiline(out_.bytes, detail::top_of(r.bytes, p.top_lines));
    return;
  }
  // RFC 1939 §5 RETR: "+OK" then the message, byte-stuffed, then ".".
  if (r.wire) {
    const std::string status = "+OK " + std::to_string(r.octets) + " octets\r\n";
    size_t skip = std::min(r.headroom, r.bytes.size());
    if (status.size() <= skip) {
      skip -= status.size();
      r.bytes.replace(skip, status.size(), status);
    } else {
      out_.bytes.append(status);
    }
    out_.bodies.push_back(Body{out_.bytes.size(), std::move(r.bytes), skip});
  } else {
    reply_ok(std::to_string(wire_size(r.bytes)) + " octets");
    detail::append_multiline(out_.bytes, r.bytes);
  }
  seen_.push_back(messages_[p.msg_index].info.uid);  // RETR implies \Seen (batched)
}

void Session::cmd_dele(std::string_view arg) {
  auto i = message_arg(arg);
  if (!i) return;
  // RFC 1939 §5 DELE: only marked; removed in UPDATE.
  messages_[*i].deleted = true;
  reply_ok(reply::about_message(*i + 1, reply::Deleted));
}

void Session::cmd_rset() {
  // RFC 1939 §5 RSET: unmark every message marked as deleted.
  for (auto& m : messages_) m.deleted = false;
  reply_ok(reply::maildrop_summary(live_count(), live_octets()));
}

void Session::cmd_quit_transaction() {
  // RFC 1939 §6: QUIT from TRANSACTION enters UPDATE and removes the deleted messages.
  std::vector<Uid> expunge;
  for (const auto& m : messages_)
    if (m.deleted) expunge.push_back(m.info.uid);
  // \Seen is owed only to the messages that stay (flagging one about to go is wasted work).
  std::vector<Uid> doomed = expunge;
  std::sort(doomed.begin(), doomed.end());
  std::erase_if(seen_, [&](Uid uid) { return std::binary_search(doomed.begin(), doomed.end(), uid); });
  flush_seen();
  if (expunge.empty()) {
    end_session("+OK " + settings_.hostname + " " + std::string(reply::Bye) + " (" +
                std::to_string(live_count()) + " messages left)");
    return;
  }
  state_ = State::update;
  begin(Pending::commit, Commit{std::move(expunge)});
}

void Session::on_commit(const CommitResult& r) {
  // RFC 1939 §6: "-ERR some deleted messages not removed" if UPDATE failed; either way
  // the session ends and the maildrop is released.
  if (r.ok)
    end_session("+OK " + settings_.hostname + " " + std::string(reply::Bye) + " (" +
                std::to_string(live_count()) + " messages left)");
  else
    end_session("-ERR " + std::string(reply::CommitFailed));
}

}  // namespace tern::pop3d
