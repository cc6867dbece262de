// Cooperative interruption. The core cannot see Python; the bindings install an
// InterruptHook whose poll() briefly takes the GIL and runs PyErr_CheckSignals. The core
// calls it only from the thread that entered the library, at most every kPollInterval,
// between blocks of work. Workers only read an atomic stop flag, so a Ctrl-C stops a fit
// within one block of work plus the poll interval (setjmp/longjmp would skip destructors).
#pragma once

#include <chrono>

namespace acctsne {

class InterruptHook {
 public:
  virtual ~InterruptHook() = default;
  // Returns true when the caller should stop (a signal is pending).
  virtual bool poll() = 0;
};

// Rate-limits calls to an InterruptHook (calling it takes the GIL, so not too often).
class InterruptPoller {
 public:
  static constexpr std::chrono::milliseconds kPollInterval{50};

  explicit InterruptPoller(InterruptHook* hook) : hook_(hook) {}

  // Polls the hook if at least kPollInterval has passed since the last poll.
  // Returns true when an interrupt is pending (sticky).
  bool poll_if_due() {
    if (hook_ == nullptr || interrupted_) return interrupted_;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < kPollInterval) return false;
    last_ = now;
    interrupted_ = hook_->poll();
    return interrupted_;
  }
  bool interrupted() const { return interrupted_; }
  // Forgets a seen interrupt (a pool that outlives one call starts the next one afresh).
  void clear() { interrupted_ = false; }

 private:
  InterruptHook* hook_;
  bool interrupted_ = false;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

}  // namespace acctsne
