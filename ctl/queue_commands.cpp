// ternctl queue list | show ID | flush [ID] | delete ID | bounce ID
// Works while ternd runs: queue.db is SQLite in WAL mode, and changes that the daemon must
// act on now (flush, bounce) are followed by SIGUSR1 to the pid in data_dir/ternd.lock (the
// daemon also re-reads queue.db every 30 s).
#include <ctime>
#include <iostream>

#include "common/strings.h"
#include "ctl/commands.h"
#include "relay/relay.h"

namespace tern::ctl {

namespace {

// RFC 3463 X.0.0 (other/undefined), permanent: the administrator gave up on the message.
constexpr const char* kAdminBounceReply = "554 5.0.0 message removed from the queue by the administrator";

Result<std::unique_ptr<relay::QueueStore>> open_queue(Context& c) {
  auto cfg = c.config();
  if (!cfg) return cfg.error();
  return relay::QueueStore::open((*cfg)->data_dir);
}

int64_t now() { return static_cast<int64_t>(::time(nullptr)); }

constexpr std::string_view kRescanLater = "it rescans the queue within 30 s";

std::string when(int64_t t) { return t > 0 ? rfc5322_date(t) : "-"; }

}  // namespace

void register_queue_commands(CLI::App& app, Context& ctx) {
  CLI::App* queue = app.add_subcommand("queue", "inspect and manage the outbound queue");
  queue->require_subcommand(1);
  auto id = std::make_shared<std::string>();

  CLI::App* list = queue->add_subcommand(
      "list", "one message per line: id, arrival, size, sender, recipients, state counts");
  list->callback([&ctx] {
    ctx.action = [](Context& c) {
      auto q = open_queue(c);
      if (!q) return fail(q.error());
      auto all = (*q)->list();
      if (!all) return fail(all.error());
      for (const auto& m : *all) {
        int counts[4] = {0, 0, 0, 0};
        std::string rcpts;
        for (const auto& r : m.recipients) {
          counts[static_cast<int>(r.state)]++;
          rcpts += (rcpts.empty() ? "" : ",") + r.address;
        }
        std::cout << m.id << '\t' << when(m.arrival) << '\t' << m.size << "\t<" << m.sender << ">\t"
                  << rcpts << '\t'
                  << "pending=" << counts[0] << " deferred=" << counts[1]
                  << " delivered=" << counts[2] << " failed=" << counts[3] << '\n';
      }
      return kExitOk;
    };
  });

  CLI::App* show = queue->add_subcommand("show", "envelope and per-recipient state of a message");
  show->add_option("ID", *id, "queue id")->required();
  show->callback([&ctx, id] {
    ctx.action = [id](Context& c) {
      auto q = open_queue(c);
      if (!q) return fail(q.error());
      auto m = (*q)->get(*id);
      if (!m) return fail(m.error());
      std::cout << "id: " << m->id << '\n'
                << "sender: <" << m->sender << ">\n"
                << "arrival: " << when(m->arrival) << '\n'
                << "size: " << m->size << '\n';
      if (!m->envid.empty()) std::cout << "envid: " << m->envid << '\n';
      if (!m->ret.empty()) std::cout << "ret: " << m->ret << '\n';
      for (const auto& r : m->recipients) {
        std::cout << "recipient: " << r.address << '\t' << to_string(r.state)
                  << "\tattempts=" << r.attempts;
        if (r.state == relay::RcptState::pending || r.state == relay::RcptState::deferred)
          std::cout << "\tnext=" << when(r.next_attempt);
        if (!r.remote_mta.empty()) std::cout << "\tmx=" << r.remote_mta;
        if (!r.last_reply.empty()) std::cout << "\treply=\"" << r.last_reply << '"';
        std::cout << '\n';
      }
      return kExitOk;
    };
  });

  auto flush_id = std::make_shared<std::string>();
  CLI::App* flush = queue->add_subcommand("flush", "retry now (one message, or all)");
  flush->add_option("ID", *flush_id, "queue id (default: every message)");
  flush->callback([&ctx, flush_id] {
    ctx.action = [flush_id](Context& c) {
      auto q = open_queue(c);
      if (!q) return fail(q.error());
      std::optional<std::string> which;
      if (!flush_id->empty()) which = *flush_id;
      auto n = (*q)->flush(which, now());
      if (!n) return fail(n.error());
      std::cout << *n << " recipient(s) scheduled now; " << signal_daemon((*c.config())->data_dir, kRescanLater) << '\n';
      return kExitOk;
    };
  });

  CLI::App* del = queue->add_subcommand("delete", "remove a message from the queue, without a bounce");
  del->add_option("ID", *id, "queue id")->required();
  del->callback([&ctx, id] {
    ctx.action = [id](Context& c) {
      auto q = open_queue(c);
      if (!q) return fail(q.error());
      if (Status s = (*q)->remove(*id); !s) return fail(s.error());
      return kExitOk;
    };
  });

  CLI::App* bounce = queue->add_subcommand("bounce", "fail every undelivered recipient now, with a DSN to the sender");
  bounce->add_option("ID", *id, "queue id")->required();
  bounce->callback([&ctx, id] {
    ctx.action = [id](Context& c) {
      auto q = open_queue(c);
      if (!q) return fail(q.error());
      auto n = (*q)->fail_all(*id, kAdminBounceReply, now());
      if (!n) return fail(n.error());
      std::cout << *n << " recipient(s) failed; " << signal_daemon((*c.config())->data_dir, kRescanLater) << '\n';
      return kExitOk;
    };
  });
}

}  // namespace tern::ctl
