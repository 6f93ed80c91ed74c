// The user's junk-filter lessons, taken from what they do over IMAP (issue 17): moving mail
// into the \Junk mailbox (RFC 6154 §2) or marking it $Junk (RFC 5788 §4.1) says "spam";
// moving it out of \Junk, or marking it $NotJunk, says "not spam". A move to \Trash says
// neither (deleting is not judging). The lessons go to Backend::learn_junk after the change
// is committed, so a failed command teaches nothing.
#include "common/strings.h"
#include "imapd/session_impl.h"

namespace tern::imapd {

namespace {

// One command teaches from at most this many messages (a MOVE of a whole folder into Junk
// must not read thousands of messages before its reply), each up to kMaxLessonBytes.
constexpr size_t kMaxLessons = 200;
constexpr uint64_t kMaxLessonBytes = 2ull << 20;

bool has_keyword(const store::Flags& flags, std::string_view keyword) {
  for (const auto& k : flags.keywords)
    if (iequals(k, keyword)) return true;
  return false;
}

}  // namespace

void Session::Impl::lessons_after_copy(const std::string& source, const std::string& dest, bool move,
                                       const std::vector<uint32_t>& dest_uids) {
  if (!backend.learns_junk() || dest_uids.empty()) return;
  auto src = backend.store().mailbox_status(user, source);
  auto dst = backend.store().mailbox_status(user, dest);
  if (!src || !dst) return;
  bool from_junk = src->special_use == "\\Junk", to_junk = dst->special_use == "\\Junk";
  bool spam;
  if (to_junk && !from_junk) spam = true;
  else if (move && from_junk && !to_junk && dst->special_use != "\\Trash") spam = false;
  else return;
  std::vector<std::string> messages;
  for (size_t i = 0; i < dest_uids.size() && i < kMaxLessons; ++i) {
    auto bytes = backend.store().read_message(user, dest, dest_uids[i]);
    if (bytes && bytes->size() <= kMaxLessonBytes) messages.push_back(std::move(*bytes));
  }
  if (!messages.empty()) backend.learn_junk(user, messages, spam);
}

void Session::Impl::lessons_after_store(const store::Flags& flags, store::FlagOp op,
                                        const std::vector<uint32_t>& changed_uids) {
  // Lessons are the user's own: marking a shared mailbox's mail teaches nothing.
  if (!backend.learns_junk() || op == store::FlagOp::remove || changed_uids.empty() || sel->owner != user) return;
  bool junk = has_keyword(flags, "$Junk"), not_junk = has_keyword(flags, "$NotJunk");
  if (junk == not_junk) return;  // neither, or a contradiction: no lesson
  std::vector<std::string> messages;
  for (size_t i = 0; i < changed_uids.size() && i < kMaxLessons; ++i) {
    auto bytes = backend.store().read_message(user, sel->name, changed_uids[i]);
    if (bytes && bytes->size() <= kMaxLessonBytes) messages.push_back(std::move(*bytes));
  }
  if (!messages.empty()) backend.learn_junk(user, messages, junk);
}

}  // namespace tern::imapd
