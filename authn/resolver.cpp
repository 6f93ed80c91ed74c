// drive() and the test-only FakeResolver.
#include "authn/resolver.h"

#include <cstdio>
#include <cstdlib>
#include <optional>

#include "common/strings.h"

namespace tern::authn {

namespace {

struct Driver : std::enable_shared_from_this<Driver> {
  Resolver* resolver = nullptr;
  std::shared_ptr<Check> check;
  std::function<void()> on_done;
  std::set<Question> in_flight;
  bool pumping = false;
  bool again = false;
  bool finished = false;

  // Asks every new question. A synchronous answer arrives while we are inside lookup();
  // it is fed at once and the loop goes round again instead of recursing.
  void pump() {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    do {
      again = false;
      if (finished) break;
      if (check->done()) {
        finished = true;
        break;
      }
      for (const auto& q : check->questions()) {
        if (!in_flight.insert(q).second) continue;
        auto self = shared_from_this();
        resolver->lookup(q, [self, q](Answer a) {
          self->in_flight.erase(q);
          if (!self->finished) self->check->answer(q, a);
          self->pump();
        });
      }
    } while (again);
    pumping = false;
    if (finished && on_done) {
      auto done = std::move(on_done);
      on_done = nullptr;
      done();
    }
  }
};

std::optional<RrType> parse_type(std::string_view s) {
  if (iequals(s, "A")) return RrType::a;
  if (iequals(s, "AAAA")) return RrType::aaaa;
  if (iequals(s, "TXT")) return RrType::txt;
  if (iequals(s, "MX")) return RrType::mx;
  if (iequals(s, "PTR")) return RrType::ptr;
  if (iequals(s, "SRV")) return RrType::srv;
  return std::nullopt;
}

// TXT presentation data: quoted strings concatenated (backslash escapes the next byte),
// or the unquoted rest of the line.
std::string txt_data(std::string_view s) {
  s = trim(s);
  if (s.empty() || s[0] != '"') return std::string(s);
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != '"') {
      ++i;
      continue;
    }
    for (++i; i < s.size() && s[i] != '"'; ++i) {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      out += s[i];
    }
    ++i;
  }
  return out;
}

}  // namespace

void drive(Resolver& resolver, std::shared_ptr<Check> check, std::function<void()> on_done) {
  auto d = std::make_shared<Driver>();
  d->resolver = &resolver;
  d->check = std::move(check);
  d->on_done = std::move(on_done);
  d->pump();
}

void abandon(Check& check) {
  Answer timeout;
  timeout.rcode = Rcode::temperror;
  timeout.detail = "gave up waiting";
  // Each round answers at least one question; checks ask a bounded number of them.
  for (int round = 0; round < 10000 && !check.done(); ++round) {
    auto qs = check.questions();
    if (qs.empty()) break;
    for (const auto& q : qs) check.answer(q, timeout);
  }
}

std::string normalize_domain(std::string_view name) {
  std::string out = ascii_lower(name);
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

FakeResolver::FakeResolver(std::string_view zone) {
  if (auto st = load(zone); !st) {
    std::fprintf(stderr, "FakeResolver: %s\n", st.error().message.c_str());
    std::abort();
  }
}

Status FakeResolver::load(std::string_view zone) {
  for (auto raw : split(zone, '\n')) {
    std::string_view line = trim(raw);
    if (line.empty() || line[0] == '#') continue;  // '#' only starts a comment at line start
    size_t sp = line.find_first_of(" \t");
    if (sp == std::string_view::npos) return make_error(Errc::syntax, "zone line: " + std::string(line));
    std::string name(line.substr(0, sp));
    std::string_view rest = trim(line.substr(sp));
    size_t sp2 = rest.find_first_of(" \t");
    std::string_view type_text = rest.substr(0, sp2);
    std::string_view data = sp2 == std::string_view::npos ? std::string_view{} : trim(rest.substr(sp2));
    if (iequals(type_text, "TEMPERROR")) {
      fail(name, data.empty() ? std::nullopt : parse_type(data));
      continue;
    }
    auto type = parse_type(type_text);
    if (!type) return make_error(Errc::syntax, "zone type: " + std::string(type_text));
    if (*type == RrType::mx) {
      size_t s3 = data.find(' ');
      auto pref = parse_u64(data.substr(0, s3));
      if (!pref || s3 == std::string_view::npos) return make_error(Errc::syntax, "zone MX: " + std::string(data));
      add_mx(name, static_cast<uint16_t>(*pref), std::string(trim(data.substr(s3))));
      continue;
    }
    if (*type == RrType::srv) {
      auto f = split(data, ' ');
      std::optional<uint64_t> n[3];
      bool good = f.size() == 4;
      for (size_t i = 0; good && i < 3; ++i) good = (n[i] = parse_u64(f[i])) && *n[i] <= 0xffff;
      if (!good) return make_error(Errc::syntax, "zone SRV: " + std::string(data));
      add_srv(name, {static_cast<uint16_t>(*n[0]), static_cast<uint16_t>(*n[1]), static_cast<uint16_t>(*n[2]),
                     std::string(f[3])});
      continue;
    }
    add(name, *type, *type == RrType::txt ? txt_data(data) : std::string(data));
  }
  return {};
}

void FakeResolver::add(const std::string& name, RrType type, std::string data, uint32_t) {
  std::string n = normalize_domain(name);
  names_.insert(n);
  if (type == RrType::ptr) data = normalize_domain(data);
  zone_[{n, type}].records.push_back(std::move(data));
}

void FakeResolver::add_mx(const std::string& name, uint16_t preference, const std::string& exchange) {
  std::string n = normalize_domain(name);
  names_.insert(n);
  zone_[{n, RrType::mx}].mx.push_back({preference, normalize_domain(exchange)});
}

void FakeResolver::add_srv(const std::string& name, dns::SrvAnswer srv) {
  std::string n = normalize_domain(name);
  names_.insert(n);
  srv.target = normalize_domain(srv.target);
  zone_[{n, RrType::srv}].srv.push_back(std::move(srv));
}

void FakeResolver::fail(const std::string& name, std::optional<RrType> type) {
  failures_.insert({normalize_domain(name), type ? static_cast<int>(*type) : -1});
}

Answer FakeResolver::resolve(const Question& q) const {
  Answer a;
  std::string n = normalize_domain(q.name);
  if (failures_.count({n, -1}) || failures_.count({n, static_cast<int>(q.type)})) {
    a.rcode = Rcode::temperror;
    a.detail = "SERVFAIL (fake)";
    return a;
  }
  auto it = zone_.find({n, q.type});
  if (it != zone_.end()) {
    a.rcode = Rcode::ok;
    a.records = it->second.records;
    a.mx = it->second.mx;
    a.srv = it->second.srv;
    a.ttl = 300;
    return a;
  }
  a.rcode = names_.count(n) ? Rcode::nodata : Rcode::nxdomain;
  a.ttl = 60;
  return a;
}

void FakeResolver::lookup(const Question& q, dns::AnswerCallback cb) {
  asked_.push_back(q);
  if (deferred_) {
    pending_.emplace_back(q, std::move(cb));
    return;
  }
  cb(resolve(q));
}

size_t FakeResolver::run_pending() {
  size_t n = 0;
  while (!pending_.empty()) {
    auto batch = std::move(pending_);
    pending_.clear();
    for (auto& [q, cb] : batch) {
      cb(resolve(q));
      ++n;
    }
  }
  return n;
}

size_t FakeResolver::count(RrType type) const {
  size_t n = 0;
  for (const auto& q : asked_) n += q.type == type;
  return n;
}

}  // namespace tern::authn
