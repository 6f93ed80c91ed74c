// DNS blocklists (see screen/dnsbl.h).
#include "screen/dnsbl.h"

#include <arpa/inet.h>

#include <algorithm>
#include <utility>

namespace tern::screen {

std::string query_name(const authn::IpAddress& ip, std::string_view zone) {
  // IpAddress::reverse_name gives "<reversed>.in-addr.arpa" / "<nibbles>.ip6.arpa": the
  // same labels RFC 5782 §2.1 and §2.4 put in front of the zone.
  std::string name = ip.reverse_name();
  name.resize(name.rfind(ip.v6 ? ".ip6.arpa" : ".in-addr.arpa"));
  name += '.';
  name += zone;
  return name;
}

bool code_counts(const DnsblZone& zone, std::string_view answer) {
  in_addr a{};
  if (::inet_pton(AF_INET, std::string(answer).c_str(), &a) != 1) return false;
  uint32_t v = ntohl(a.s_addr);
  if (zone.codes.empty())
    // RFC 5782 §2.1: listings answer within 127.0.0.0/8; 127.0.0.1 is never a listing
    // (some lists answer it, or 127.255.255.x, for refused or over-quota queries).
    return (v >> 24) == 127 && v != 0x7f000001;
  return std::any_of(zone.codes.begin(), zone.codes.end(),
                     [v](const auto& r) { return v >= r.first && v <= r.second; });
}

std::shared_ptr<DnsblLookup> DnsblLookup::start(dns::RecordResolver& resolver,
                                                const authn::IpAddress& client,
                                                const std::vector<DnsblZone>& zones) {
  std::shared_ptr<DnsblLookup> self(new DnsblLookup());
  self->pending_ = static_cast<int>(zones.size());
  for (const auto& zone : zones) {
    std::weak_ptr<DnsblLookup> weak = self;
    // The zone is copied: the callback may come after the config it came from is gone.
    resolver.lookup(dns::Question{query_name(client, zone.zone), dns::RrType::a},
                    [weak, zone](dns::Answer answer) {
                      if (auto s = weak.lock()) s->answered(zone, answer);
                    });
  }
  return self;
}

void DnsblLookup::answered(const DnsblZone& zone, const dns::Answer& answer) {
  if (given_up_) return;
  if (answer.rcode == dns::Rcode::ok) {
    std::string codes;
    for (const auto& a : answer.records)
      if (code_counts(zone, a)) codes += (codes.empty() ? "" : ",") + a;
    if (!codes.empty()) hits_.push_back(ScoreRecord{"DNSBL_" + zone.zone, zone.weight, codes});
  }
  // nxdomain: not listed; temperror: unknown, counted as not listed (never reject on it).
  finish_one();
}

void DnsblLookup::finish_one() {
  if (pending_ > 0 && --pending_ == 0) wake();
}

void DnsblLookup::wake() {
  auto self = shared_from_this();  // a waiter may drop the last other reference
  for (auto& fn : std::exchange(waiters_, {})) fn();
}

void DnsblLookup::when_done(std::function<void()> fn) {
  if (done()) return fn();
  waiters_.push_back(std::move(fn));
}

void DnsblLookup::give_up() {
  if (done()) return;
  given_up_ = true;
  pending_ = 0;
  wake();
}

int DnsblLookup::score() const {
  int total = 0;
  for (const auto& h : hits_) total += h.score;
  return total;
}

bool DnsblLookup::allow_listed() const {
  return std::any_of(hits_.begin(), hits_.end(), [](const auto& h) { return h.score < 0; });
}

std::string DnsblLookup::worst_zone() const {
  const ScoreRecord* worst = nullptr;
  for (const auto& h : hits_)
    if (h.score > 0 && (!worst || h.score > worst->score)) worst = &h;
  return worst ? worst->rule.substr(6) : std::string();  // without "DNSBL_"
}

}  // namespace tern::screen
