// CaresResolver: c-ares driven by a libuv loop through socket-state callbacks.
//
// c-ares tells us (sock_state_cb) which sockets it wants polled for read/write; we keep one
// uv_poll_t per socket and call ares_process_fd when it is ready. A single uv_timer_t is
// re-armed after every c-ares call with ares_timeout() so retries and timeouts happen even
// when no socket is readable. Everything runs on the loop thread.
#include <ares.h>
#include <arpa/inet.h>
#include <uv.h>

#include <cstring>
#include <deque>
#include <map>
#include <mutex>

#include "dns/dns.h"

namespace tern::dns {

namespace {

// c-ares status -> our taxonomy. NXDOMAIN is permanent; "no records" is handled by callers.
DnsStatus classify(int status) {
  switch (status) {
    case ARES_SUCCESS: return DnsStatus::ok;
    case ARES_ENOTFOUND: return DnsStatus::not_found;  // NXDOMAIN
    case ARES_ENODATA: return DnsStatus::not_found;    // NOERROR, no records of this type
    case ARES_EBADNAME: return DnsStatus::not_found;   // not a valid domain name at all
    default: return DnsStatus::temporary;              // SERVFAIL, REFUSED, timeout, ...
  }
}

std::once_flag g_ares_init_once;

// RFC 1035 §3.2.2-3.2.4 (and RFC 3596 §2.1 for AAAA): class and type numbers we query.
constexpr int kClassIn = 1;
constexpr int kTypeA = 1;
constexpr int kTypeMx = 15;
constexpr int kTypeAaaa = 28;

}  // namespace

struct CaresResolver::Impl {
  uv_loop_t* loop = nullptr;
  ares_channel channel = nullptr;
  RandomSource random;
  uv_timer_t* timer = nullptr;       // follows ares_timeout()
  uv_timer_t* deferred_timer = nullptr;  // delivers results produced inside lookup_*
  std::map<ares_socket_t, uv_poll_t*> polls;
  std::deque<std::function<void()>> deferred;
  bool in_call = false;     // inside lookup_*: completions must be deferred
  bool destroying = false;  // inside ares_destroy: completions are dropped

  // One MX query.
  struct MxQuery {
    Impl* impl;
    std::string domain;
    MxCallback cb;
  };
  // One RecordResolver question.
  struct RecordQuery {
    Impl* impl;
    Question question;
    AnswerCallback cb;
  };
  // A + AAAA pair; finishes when both are answered.
  struct AddrQuery {
    Impl* impl;
    std::string host;
    AddressCallback cb;
    int pending = 2;
    int status_a = ARES_ENODATA, status_aaaa = ARES_ENODATA;
    AddressResult result;
  };

  void deliver(std::function<void()> fn) {
    if (destroying) return;
    if (in_call) {
      deferred.push_back(std::move(fn));
      uv_timer_start(deferred_timer, &Impl::on_deferred, 0, 0);
      return;
    }
    fn();
  }

  static void on_deferred(uv_timer_t* t) {
    auto* self = static_cast<Impl*>(t->data);
    auto pending = std::move(self->deferred);
    self->deferred.clear();
    for (auto& fn : pending) fn();
  }

  void rearm_timer() {
    if (destroying) return;
    timeval tv{};
    timeval* next = ares_timeout(channel, nullptr, &tv);
    if (next == nullptr) {
      uv_timer_stop(timer);
      return;
    }
    uint64_t ms = static_cast<uint64_t>(next->tv_sec) * 1000 + static_cast<uint64_t>(next->tv_usec) / 1000;
    uv_timer_start(timer, &Impl::on_timer, ms, 0);
  }

  static void on_timer(uv_timer_t* t) {
    auto* self = static_cast<Impl*>(t->data);
    ares_process_fd(self->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    self->rearm_timer();
  }

  static void on_poll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<Impl*>(handle->data);
    ares_socket_t fd = ARES_SOCKET_BAD;
    for (auto& [s, h] : self->polls) {
      if (h == handle) fd = s;
    }
    if (fd == ARES_SOCKET_BAD) return;
    // On a poll error, let c-ares read and write so it notices the failure itself.
    bool err = status < 0;
    ares_process_fd(self->channel, (err || (events & UV_READABLE)) ? fd : ARES_SOCKET_BAD,
                    (err || (events & UV_WRITABLE)) ? fd : ARES_SOCKET_BAD);
    self->rearm_timer();
  }

  static void on_sock_state(void* data, ares_socket_t fd, int readable, int writable) {
    auto* self = static_cast<Impl*>(data);
    auto it = self->polls.find(fd);
    if (!readable && !writable) {
      if (it != self->polls.end()) {
        uv_poll_stop(it->second);
        uv_close(reinterpret_cast<uv_handle_t*>(it->second),
                 [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
        self->polls.erase(it);
      }
      return;
    }
    if (self->destroying) return;
    uv_poll_t* poll = nullptr;
    if (it == self->polls.end()) {
      poll = new uv_poll_t;
      if (uv_poll_init_socket(self->loop, poll, fd) != 0) {
        delete poll;
        return;  // c-ares will time the query out
      }
      poll->data = self;
      self->polls[fd] = poll;
    } else {
      poll = it->second;
    }
    int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
    uv_poll_start(poll, events, &Impl::on_poll);
  }

  static void on_mx(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
    std::unique_ptr<MxQuery> q(static_cast<MxQuery*>(arg));
    Impl* self = q->impl;
    if (self->destroying || status == ARES_EDESTRUCTION) return;
    MxResult result;
    if (status == ARES_SUCCESS || status == ARES_ENODATA) {
      ParsedMx parsed;
      if (status == ARES_SUCCESS) {
        parsed = parse_mx_answer(std::string_view(reinterpret_cast<const char*>(abuf),
                                                  static_cast<size_t>(alen)));
      } else {
        parsed.status = DnsStatus::ok;  // NOERROR/NODATA: implicit MX
      }
      if (parsed.status != DnsStatus::ok) {
        result.status = parsed.status;
        result.detail = parsed.detail;
      } else {
        result = order_mx(std::move(parsed.records), q->domain, self->random);
      }
    } else {
      result.status = classify(status);
      result.detail = "MX " + q->domain + ": " + ares_strerror(status);
    }
    self->deliver([cb = std::move(q->cb), r = std::move(result)]() mutable { cb(std::move(r)); });
  }

  static void on_addr(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen,
                      bool v6) {
    auto* q = static_cast<AddrQuery*>(arg);
    Impl* self = q->impl;
    if (status == ARES_SUCCESS) {
      char text[INET6_ADDRSTRLEN] = {};
      if (v6) {
        ares_addr6ttl ttls[32];
        int n = 32;
        status = ares_parse_aaaa_reply(abuf, alen, nullptr, ttls, &n);
        for (int i = 0; status == ARES_SUCCESS && i < n; ++i) {
          if (inet_ntop(AF_INET6, &ttls[i].ip6addr, text, sizeof text)) q->result.ipv6.push_back(text);
        }
      } else {
        ares_addrttl ttls[32];
        int n = 32;
        status = ares_parse_a_reply(abuf, alen, nullptr, ttls, &n);
        for (int i = 0; status == ARES_SUCCESS && i < n; ++i) {
          if (inet_ntop(AF_INET, &ttls[i].ipaddr, text, sizeof text)) q->result.ipv4.push_back(text);
        }
      }
    }
    (v6 ? q->status_aaaa : q->status_a) = status;
    if (--q->pending > 0) return;
    std::unique_ptr<AddrQuery> owned(q);
    if (self->destroying || status == ARES_EDESTRUCTION) return;
    AddressResult& r = q->result;
    if (!r.ipv4.empty() || !r.ipv6.empty()) {
      r.status = DnsStatus::ok;
    } else {
      DnsStatus a = classify(q->status_a), aaaa = classify(q->status_aaaa);
      // Both empty: temporary wins (a SERVFAIL on one family might hide addresses).
      r.status = (a == DnsStatus::temporary || aaaa == DnsStatus::temporary) ? DnsStatus::temporary
                                                                              : DnsStatus::not_found;
      int shown = (a == DnsStatus::temporary || q->status_aaaa == ARES_ENODATA) ? q->status_a : q->status_aaaa;
      r.detail = "A/AAAA " + q->host + ": " + ares_strerror(shown);
    }
    self->deliver([cb = std::move(q->cb), res = std::move(r)]() mutable { cb(std::move(res)); });
  }

  static void on_record(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
    std::unique_ptr<RecordQuery> q(static_cast<RecordQuery*>(arg));
    Impl* self = q->impl;
    if (self->destroying || status == ARES_EDESTRUCTION) return;
    Answer a;
    bool parsable = abuf != nullptr && alen > 0 &&
                    (status == ARES_SUCCESS || status == ARES_ENODATA || status == ARES_ENOTFOUND);
    if (parsable) {
      a = parse_record_answer(std::string_view(reinterpret_cast<const char*>(abuf), static_cast<size_t>(alen)),
                              q->question.type);
    } else if (status == ARES_ENOTFOUND || status == ARES_EBADNAME) {
      a.rcode = Rcode::nxdomain;  // no answer bytes (or not a name at all): nothing to cache long
    } else if (status == ARES_ENODATA) {
      a.rcode = Rcode::nodata;
    } else {
      a.rcode = Rcode::temperror;  // SERVFAIL, REFUSED, timeout, connection refused
    }
    if (a.rcode == Rcode::temperror && a.detail.empty()) {
      a.detail = std::string(to_string(q->question.type)) + " " + q->question.name + ": " + ares_strerror(status);
    }
    self->deliver([cb = std::move(q->cb), a = std::move(a)]() mutable { cb(std::move(a)); });
  }
};

CaresResolver::CaresResolver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<CaresResolver>> CaresResolver::create(uv_loop_s* loop, CaresOptions options) {
  std::call_once(g_ares_init_once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
  auto impl = std::make_unique<Impl>();
  impl->loop = loop;
  impl->random = options.random ? options.random : default_random_source();

  ares_options opts{};
  opts.sock_state_cb = &Impl::on_sock_state;
  opts.sock_state_cb_data = impl.get();
  opts.timeout = options.timeout_ms;
  opts.tries = options.tries;
  opts.flags = ARES_FLAG_EDNS;  // larger UDP answers; c-ares still retries over TCP when truncated
  opts.ednspsz = 1232;
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS |
             ARES_OPT_EDNSPSZ;
  int rc = ares_init_options(&impl->channel, &opts, mask);
  if (rc != ARES_SUCCESS) {
    return make_error(Errc::internal, std::string("c-ares init: ") + ares_strerror(rc));
  }
  if (!options.servers.empty()) {
    std::string csv;
    for (const auto& ep : options.servers) {
      if (!csv.empty()) csv += ',';
      csv += ep.str();  // "ip:port" or "[v6]:port", the syntax c-ares expects
    }
    rc = ares_set_servers_ports_csv(impl->channel, csv.c_str());
    if (rc != ARES_SUCCESS) {
      ares_destroy(impl->channel);
      return make_error(Errc::syntax, "dns servers \"" + csv + "\": " + ares_strerror(rc));
    }
  }
  impl->timer = new uv_timer_t;
  impl->deferred_timer = new uv_timer_t;
  uv_timer_init(loop, impl->timer);
  uv_timer_init(loop, impl->deferred_timer);
  impl->timer->data = impl.get();
  impl->deferred_timer->data = impl.get();
  return std::unique_ptr<CaresResolver>(new CaresResolver(std::move(impl)));
}

CaresResolver::~CaresResolver() {
  if (!impl_) return;
  impl_->destroying = true;
  // Cancels outstanding queries (their callbacks see ARES_EDESTRUCTION and are dropped) and
  // closes the sockets, which reports "no interest" for each through on_sock_state.
  ares_destroy(impl_->channel);
  for (auto& [fd, poll] : impl_->polls) {
    uv_poll_stop(poll);
    uv_close(reinterpret_cast<uv_handle_t*>(poll), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
  }
  impl_->polls.clear();
  auto close_timer = [](uv_timer_t* t) {
    uv_timer_stop(t);
    uv_close(reinterpret_cast<uv_handle_t*>(t), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  };
  close_timer(impl_->timer);
  close_timer(impl_->deferred_timer);
}

void CaresResolver::lookup_mx(const std::string& domain, MxCallback cb) {
  std::string name = normalize_name(domain);
  auto* q = new Impl::MxQuery{impl_.get(), name, std::move(cb)};
  impl_->in_call = true;
  ares_query(impl_->channel, name.c_str(), kClassIn, kTypeMx, &Impl::on_mx, q);
  impl_->in_call = false;
  impl_->rearm_timer();
}

void CaresResolver::lookup_addresses(const std::string& host, AddressCallback cb) {
  std::string name = normalize_name(host);
  auto* q = new Impl::AddrQuery;
  q->impl = impl_.get();
  q->host = name;
  q->cb = std::move(cb);
  impl_->in_call = true;
  ares_query(impl_->channel, name.c_str(), kClassIn, kTypeA,
             [](void* arg, int st, int to, unsigned char* b, int l) { Impl::on_addr(arg, st, to, b, l, false); }, q);
  ares_query(impl_->channel, name.c_str(), kClassIn, kTypeAaaa,
             [](void* arg, int st, int to, unsigned char* b, int l) { Impl::on_addr(arg, st, to, b, l, true); }, q);
  impl_->in_call = false;
  impl_->rearm_timer();
}

}  // namespace tern::dns

namespace tern::dns {

void CaresResolver::lookup(const Question& question, AnswerCallback cb) {
  auto* q = new Impl::RecordQuery{impl_.get(), {normalize_name(question.name), question.type}, std::move(cb)};
  impl_->in_call = true;
  ares_query(impl_->channel, q->question.name.c_str(), kClassIn, static_cast<int>(question.type), &Impl::on_record, q);
  impl_->in_call = false;
  impl_->rearm_timer();
}

}  // namespace tern::dns
