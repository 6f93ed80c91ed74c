// bayes: each user's own junk classifier, learnt from what the user does (issue 17).
//
// The user teaches it over IMAP: moving a message into the Junk folder (or setting $Junk,
// RFC 5788) trains it as spam, moving it out of Junk (or setting $NotJunk) as ham. At
// delivery the MX asks it for the probability that a new message is spam; the content
// stage turns that into a score contribution. Addresses the user has written to (their own
// submitted mail) are remembered as correspondents, a reputation bonus for mail from them.
//
// Method: Gary Robinson's per-token estimate f(w) (with a prior of strength kPriorStrength
// around 0.5) and Fisher's chi-square combining of the most telling tokens, as SpamBayes and
// bogofilter do; it needs no tuning and says "unsure" (near 0.5) when the evidence is thin.
//
// Storage: one SQLite file (data_dir/classifier.db, WAL) for every user. Tokens are kept as
// 64-bit hashes with their spam/ham counts and the day last seen; each user's table is
// bounded (Limits::max_tokens, the least recently seen, least used go first) and so is the
// list of trained message digests and of correspondents. A message trained twice as the same
// class counts once; trained as the other class later, its earlier counts are taken back.
//
// Threading: every function blocks (SQLite) and is safe from any thread (one connection
// behind a mutex); never call it on the event loop.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace tern::sqlite {
class Connection;
}

namespace tern::bayes {

enum class Class { ham, spam };

struct Limits {
  int64_t max_tokens = 200000;         // per user; ~40 bytes each on disk
  int64_t max_trained = 20000;         // remembered message digests per user
  int64_t max_correspondents = 5000;   // per user
  int min_trained_each = 5;            // no verdict before this many ham AND spam messages
};

struct Clue {
  std::string token;  // as tokenised from this message ("subject:offer", "url:x.test")
  double probability = 0.5;
};

struct Verdict {
  double spam_probability = 0.5;  // 0 = surely ham, 1 = surely spam
  std::vector<Clue> clues;        // the strongest, most telling first (at most 5)
};

struct UserStats {
  int64_t spam_messages = 0, ham_messages = 0, tokens = 0, correspondents = 0;
};

class Classifier {
 public:
  // Opens (creating) the database at `path`.
  static Result<std::unique_ptr<Classifier>> open(const std::string& path, const Limits& limits = {});
  ~Classifier();
  Classifier(const Classifier&) = delete;
  Classifier& operator=(const Classifier&) = delete;

  // Trains the user's tokens on one message. `day` is the current day number (unix / 86400).
  // Returns false when the message was already trained as this class (nothing changed).
  Result<bool> learn(std::string_view user, std::string_view message, Class c, int64_t day);
  // nullopt while the user has trained fewer than min_trained_each of either class.
  Result<std::optional<Verdict>> classify(std::string_view user, std::string_view message);

  // The user sent mail to `address` (lower-cased local@domain).
  Status note_correspondent(std::string_view user, std::string_view address, int64_t day);
  Result<bool> is_correspondent(std::string_view user, std::string_view address);
  // Whether the user has written to any address at `domain` (lower-case): greylisting lets
  // a reply from there through (daemon/screen_glue.h). Scans the user's bounded list.
  Result<bool> has_correspondent_at(std::string_view user, std::string_view domain);

  Result<UserStats> stats(std::string_view user);
  // Forgets everything about the user (the user was removed).
  Status forget(std::string_view user);

 private:
  Classifier(std::unique_ptr<sqlite::Connection> db, const Limits& limits);
  Result<int64_t> user_id(std::string_view user, bool create);
  void prune(int64_t uid);

  std::mutex mu_;
  std::unique_ptr<sqlite::Connection> db_;
  Limits limits_;
};

}  // namespace tern::bayes
