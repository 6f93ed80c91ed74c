// authn/iprev.h: iprev (RFC 8601 §3): forward-confirmed reverse DNS of the client address.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "authn/ip.h"
#include "authn/resolver.h"

namespace tern::authn {

// RFC 8601 §2.7.3.
enum class IprevResult { pass, fail, temperror, permerror };
const char* to_string(IprevResult r);

struct IprevVerdict {
  IprevResult result = IprevResult::temperror;
  std::string ip;     // policy.iprev
  std::string name;   // the confirmed name (pass), else the first PTR name, if any
  std::string reason;
};

class IprevCheck final : public Check {
 public:
  static constexpr size_t kMaxNames = 10;  // PTR names whose forward lookups we try

  explicit IprevCheck(IpAddress ip);
  std::vector<Question> questions() override;
  void answer(const Question& question, const Answer& answer) override;
  bool done() const override { return done_; }
  const IprevVerdict& verdict() const { return verdict_; }

 private:
  void step();

  IpAddress ip_;
  std::map<Question, Answer> memo_;
  std::vector<Question> needed_;
  IprevVerdict verdict_;
  bool done_ = false;
};

}  // namespace tern::authn
