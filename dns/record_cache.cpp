// CachingResolver: bounded TTL cache (RFC 2308 negative caching) with in-flight joining.
#include <list>
#include <map>

#include "dns/dns.h"

namespace tern::dns {

struct CachingResolver::State {
  RecordResolver* upstream = nullptr;
  CacheOptions options;
  struct Entry {
    Answer answer;
    uint64_t expires_ms = 0;
    std::list<Question>::iterator lru;
  };
  std::map<Question, Entry> entries;
  std::list<Question> lru;  // front: most recently used
  std::map<Question, std::vector<AnswerCallback>> in_flight;
  Stats stats;

  uint64_t now() const { return options.now_ms ? options.now_ms() : 0; }

  void store(const Question& q, const Answer& a) {
    uint32_t ttl = 0;
    if (a.rcode == Rcode::ok) {
      ttl = std::min(a.ttl, options.max_ttl);
    } else if (a.rcode == Rcode::nxdomain || a.rcode == Rcode::nodata) {
      // RFC 2308 §5: the negative TTL comes from the SOA; without one, a short default.
      ttl = std::min(a.ttl ? a.ttl : options.default_negative_ttl, options.max_negative_ttl);
    }
    if (ttl == 0 || options.max_entries == 0) return;  // temperror and TTL 0 are not kept
    auto it = entries.find(q);
    if (it != entries.end()) {
      lru.erase(it->second.lru);
      entries.erase(it);
    }
    while (entries.size() >= options.max_entries) {
      entries.erase(lru.back());
      lru.pop_back();
      ++stats.evictions;
    }
    lru.push_front(q);
    entries[q] = Entry{a, now() + uint64_t{ttl} * 1000, lru.begin()};
  }
};

CachingResolver::CachingResolver(RecordResolver& upstream, CacheOptions options)
    : state_(std::make_shared<State>()) {
  state_->upstream = &upstream;
  state_->options = std::move(options);
}

CachingResolver::~CachingResolver() = default;

void CachingResolver::lookup(const Question& question, AnswerCallback cb) {
  State& s = *state_;
  Question q{normalize_name(question.name), question.type};
  auto it = s.entries.find(q);
  if (it != s.entries.end()) {
    uint64_t now = s.now();
    if (it->second.expires_ms > now) {
      ++s.stats.hits;
      s.lru.splice(s.lru.begin(), s.lru, it->second.lru);
      Answer a = it->second.answer;
      a.ttl = static_cast<uint32_t>((it->second.expires_ms - now + 999) / 1000);  // what is left
      cb(std::move(a));
      return;
    }
    s.lru.erase(it->second.lru);
    s.entries.erase(it);
  }
  auto& waiters = s.in_flight[q];
  waiters.push_back(std::move(cb));
  if (waiters.size() > 1) {
    ++s.stats.joined;  // the same question is already on its way
    return;
  }
  ++s.stats.misses;
  std::weak_ptr<State> weak = state_;
  s.upstream->lookup(q, [weak, q](Answer a) {
    auto st = weak.lock();
    if (!st) return;  // the cache is gone; so are its waiters
    st->store(q, a);
    auto node = st->in_flight.extract(q);
    if (node.empty()) return;
    for (auto& w : node.mapped()) w(a);
  });
}

CachingResolver::Stats CachingResolver::stats() const { return state_->stats; }
size_t CachingResolver::size() const { return state_->entries.size(); }

}  // namespace tern::dns
