#include <string>

#include <sk/ipc/internal/pool/item_lifecycle.hpp>
#include <sk/process.hpp>

namespace sk::process_detail {

ipc::ProcessSpec ProcessBase::make_spec() const {
  ipc::ProcessSpec s;
  if (config.lives < 1)
    throw ProcessConfigError("Skprocess config.lives is 0; it counts total attempts, so use 1 (no retry) or more");
  if (config.join_in && config.join_in->count() < 0)
    throw ProcessConfigError("Skprocess config.join_in is negative; use a duration >= 0 or leave it unset");
  if (config.autoreconnect) config.autoreconnect->check_keys();  // in the parent: fails before any fork
  s.runs = config.runs;
  s.join_in = config.join_in;
  s.lives = config.lives;
  s.channel_capacity = config.channel_bytes;
  const std::pair<ipc::HookId, const std::optional<std::chrono::milliseconds>*> t[] = {
      {ipc::HookId::prerun, &config.timeouts.prerun},     {ipc::HookId::run, &config.timeouts.run},
      {ipc::HookId::postrun, &config.timeouts.postrun},   {ipc::HookId::onfinish, &config.timeouts.onfinish},
      {ipc::HookId::result, &config.timeouts.result},     {ipc::HookId::error, &config.timeouts.error}};
  for (const auto& [hook, limit] : t) {
    if (*limit && limit->value().count() <= 0)
      throw ProcessConfigError(std::string("Skprocess config.timeouts.") + ipc::hook_name(hook) +
                               " is not positive; use at least 1 ms, or leave it unset for no limit");
    s.timeouts[static_cast<std::size_t>(hook)] = *limit;
  }
  return s;
}

void ProcessBase::start() {
  if (handle_.is_inline())
    throw ProcessAlreadyStarted("start() inside a pool.map<W> item: the Pool already runs this object's lifecycle");
  if (handle_.in_worker())
    throw ProcessAlreadyStarted("start() called inside the worker process of this Skprocess; it is already running");
  if (handle_.started())
    throw ProcessAlreadyStarted(
        "Skprocess start() called twice; a Skprocess object runs once. Create a new object to run again");
  handle_.start(make_spec(), *this);
}

bool ProcessBase::wait() {
  if (handle_.in_worker()) throw ProcessUsageError("wait() called inside the worker; it would wait for itself");
  return handle_.wait(std::nullopt);
}

bool ProcessBase::wait(std::chrono::nanoseconds timeout) {
  if (handle_.in_worker()) throw ProcessUsageError("wait() called inside the worker; it would wait for itself");
  return handle_.wait(timeout);
}

void ProcessBase::stop() noexcept { handle_.request_stop(); }
void ProcessBase::kill() noexcept { handle_.kill(); }
bool ProcessBase::is_alive() noexcept { return handle_.is_alive(); }
std::uint64_t ProcessBase::current_run() const noexcept { return handle_.current_run(); }
pid_t ProcessBase::pid() const noexcept { return handle_.pid(); }

void ProcessBase::record_timer_sample(ipc::HookId h, double s) noexcept {
  Sktimer* t = nullptr;
  switch (h) {
    case ipc::HookId::prerun: t = &timers_.prerun; break;
    case ipc::HookId::run: t = &timers_.run; break;
    case ipc::HookId::postrun: t = &timers_.postrun; break;
    case ipc::HookId::onfinish: t = &timers_.onfinish; break;
    case ipc::HookId::result: t = &timers_.result; break;
    case ipc::HookId::error: t = &timers_.error; break;
    case ipc::HookId::full_run: t = &timers_.full_run; break;
    case ipc::HookId::none: break;
  }
  if (t) {
    try {
      t->add_time(s);
    } catch (...) {
      // out of memory for one more sample: the statistic misses it
    }
  }
}

const ProcessTimers& ProcessBase::timers() {
  handle_.drain_timer_samples([this](ipc::HookId h, double s) { record_timer_sample(h, s); });
  return timers_;
}

void ProcessBase::run_in_pool(ipc::LifecycleState& state, const ipc::pool::ItemResume& resume,
                              ipc::LifecycleHost& host) {
  ipc::ProcessSpec spec = make_spec();  // refuses what a started Skprocess refuses
  // An item whose runs was never set runs once (the original loops until
  // stopped: inside a Pool nothing would stop it). join_in still bounds it.
  if (!config.runs && !config.join_in) spec.runs = 1;
  handle_.attach_inline(state);
  ipc::pool::start_item_lifecycle(state, resume, spec.lives);
  if (resume.mode == ipc::pool::ItemResume::kErrorOnly)
    ipc::run_error_only(state, spec, *this, host, ipc::pool::resume_failure(resume));
  else
    ipc::run_lifecycle(state, spec, *this, host);
}

void ProcessBase::check_channel(const char* what) const {
  if (handle_.is_inline())
    throw ProcessUsageError(std::string(what) +
                            "() inside a pool.map<W> item: the item runs inline in a Pool worker and has no "
                            "parent-side handle to talk to; return data through result(), or use a Share or a Pipe");
  if (handle_.in_worker()) return;
  if (!handle_.started())
    throw ProcessNotStarted(std::string(what) + "() before start(): the worker does not exist yet; call start() first");
  if (collected_)
    throw ProcessChannelClosed(std::string(what) +
                               "() after get(): the process has finished and its tell/listen channel is closed");
}

const ipc::Outcome& ProcessBase::collect_outcome(const char* what) {
  if (handle_.in_worker())
    throw ProcessUsageError(std::string(what) + " called inside the worker; the outcome exists only in the parent");
  if (!handle_.started())
    throw ProcessNotStarted(std::string(what) + " before start(): nothing has run; call start() or execute()");
  handle_.wait(std::nullopt);
  timers();  // the final samples
  collected_ = true;
  return handle_.outcome();
}

}  // namespace sk::process_detail
