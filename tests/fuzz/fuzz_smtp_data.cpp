// Fuzzes the message-data path: a session already in DATA (or BDAT) state is fed arbitrary
// bytes, split at points chosen by the input, with a fake that answers every action. The
// first input byte picks the mode and the bare-newline policy. Checks: no crash, no leak,
// and a delivered message never exceeds the size limit (plus our Received: header).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "smtpd/smtpd.h"

using namespace tern::smtpd;

namespace {

constexpr uint64_t kMaxSize = 4096;

ActionResult answer(const Action& a) {
  ActionResult r;
  r.id = a.id;
  if (std::holds_alternative<Authenticate>(a.request)) {
    r.result = AuthResult{AuthResult::bad, ""};
  } else if (std::holds_alternative<ResolveRecipient>(a.request)) {
    r.result = RecipientResult{RecipientResult::local, {"u@example.test"}};
  } else if (std::holds_alternative<CheckSender>(a.request)) {
    r.result = SenderResult{SenderResult::owned};
  } else {
    const auto& d = std::get<Deliver>(a.request);
    // Received: is a few hundred bytes at most with this fixed peer.
    if (d.message.size() > kMaxSize + 1024) abort();
    r.result = DeliverResult{DeliverResult::ok, "", ""};
  }
  return r;
}

// Answers actions until the session asks for nothing more.
void drive(Session& s, Output out) {
  std::vector<Action> todo = std::move(out.actions);
  while (!todo.empty()) {
    Action a = std::move(todo.back());
    todo.pop_back();
    Output next = s.complete(answer(a));
    for (auto& n : next.actions) todo.push_back(std::move(n));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t mode = data[0];
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  SessionSettings settings;
  settings.hostname = "mx.example.test";
  settings.max_message_size = kMaxSize;
  settings.max_line_length = 200;
  settings.bare_newline = (mode & 1) ? BareNewlinePolicy::normalize : BareNewlinePolicy::reject;
  settings.clock = [] { return int64_t{1700000000}; };
  settings.make_id = [] { return std::string("FUZZ"); };
  PeerInfo peer;
  peer.ip = "192.0.2.1";
  Session s(settings, peer);
  drive(s, s.greet());
  std::string setup = "EHLO fuzz.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.test>\r\n";
  setup += (mode & 2) ? "BDAT 64\r\n" : "DATA\r\n";
  drive(s, s.feed(setup));

  // Split the rest into pieces whose sizes come from the mode byte (1..8 bytes, or whole).
  size_t step = (mode >> 2) & 7;
  if (step == 0) {
    drive(s, s.feed(input));
  } else {
    for (size_t i = 0; i < input.size(); i += step) drive(s, s.feed(input.substr(i, step)));
  }
  if (mode & 0x80) drive(s, s.shutdown());
  drive(s, s.timeout());
  return 0;
}
