#pragma once
// Ctrl-C during solves that run without the GIL. Python's SIGINT handler only notes the
// signal; the interpreter raises KeyboardInterrupt when it next runs Python code, which it
// cannot do while a solve holds the thread. So once a solve called from the main thread has
// run for 1 ms, a handler chained in front of Python's also sets a flag that every lane
// reads every few steps. The lanes stop, and after the parallel region, with the GIL back,
// the binding lets Python raise what it noted. No Python runs inside the region, every
// thread's lanes stop, and short solves never touch the handler.
//
// Only while Python's own default handler is in place (signal.default_int_handler, which
// raises KeyboardInterrupt): a program with a handler of its own (asyncio, a graceful
// shutdown) has its solves run to the end, as before. Not covered: _thread.interrupt_main(),
// which notes a signal without one being sent.
#include <pybind11/pybind11.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <neuralode/controller.hpp>

namespace neuralode::bindings {

namespace py = pybind11;

// The main thread's identifier (Python's threading.main_thread().ident), set at import and
// after a fork (the forking thread is the child's main thread).
inline unsigned long& main_thread_ident() {
  static unsigned long ident = 0;
  return ident;
}

// Whether SIGINT's Python handler is signal.default_int_handler. Call with the GIL held.
inline bool default_sigint_handler() {
  static PyObject* getsignal = nullptr;  // kept for the life of the process
  static PyObject* default_handler = nullptr;
  if (!getsignal) {
    py::module_ signal_module = py::module_::import("_signal");  // signal.getsignal is slow
    getsignal = py::object(signal_module.attr("getsignal")).release().ptr();
    default_handler = py::object(signal_module.attr("default_int_handler")).release().ptr();
  }
  PyObject* handler = PyObject_CallFunction(getsignal, "i", SIGINT);
  if (!handler) {
    PyErr_Clear();
    return false;
  }
  const bool is_default = handler == default_handler;
  Py_DECREF(handler);
  return is_default;
}

class InterruptWatch {
 public:
  // Call with the GIL held. With `options`, its lanes stop once interrupted.
  explicit InterruptWatch(SolverOptions* options = nullptr)
      : start_(std::chrono::steady_clock::now()),
        armed_(PyThread_get_thread_ident() == main_thread_ident() && default_sigint_handler()) {
    if (armed_ && PyErr_CheckSignals() != 0) throw py::error_already_set();  // came before
    if (!options) return;
    options->stop = &stop_;
    if (armed_) {
      options->poll = &poll;
      options->poll_context = this;
    }
  }
  InterruptWatch(const InterruptWatch&) = delete;
  InterruptWatch& operator=(const InterruptWatch&) = delete;
  ~InterruptWatch() { restore(); }

  // Whether the solve is to stop (any thread; installs the handler once 1 ms has passed).
  bool requested() {
    poll(this);
    return stop_.load(std::memory_order_relaxed);
  }

  // After fork(), in the child: the forking thread is the main thread, and a handler left
  // in place by a solve that was running in the parent is taken out.
  static void after_fork_in_child() {
    main_thread_ident() = PyThread_get_thread_ident();
    if (current_flag().exchange(nullptr)) sigaction(SIGINT, &chained(), nullptr);
  }

  // Call with the GIL held, after the parallel region. If the solve was interrupted, Python
  // runs the SIGINT handler (the default one, which raises KeyboardInterrupt); the solve is
  // incomplete, so if nothing was raised, KeyboardInterrupt is raised here.
  void rethrow_if_interrupted() {
    restore();
    if (!stop_.load()) return;
    if (PyErr_CheckSignals() == 0)
      PyErr_SetString(PyExc_KeyboardInterrupt, "the solve was interrupted by SIGINT");
    throw py::error_already_set();
  }

 private:
  static bool poll(void* context) {
    auto* self = static_cast<InterruptWatch*>(context);
    if (self->armed_ && !self->installing_.load(std::memory_order_relaxed) &&
        std::chrono::steady_clock::now() - self->start_ > std::chrono::milliseconds(1) &&
        !self->installing_.exchange(true))
      self->install();
    return false;  // the handler sets the flag itself
  }

  void install() {
    if (orphaned() || sigaction(SIGINT, nullptr, &previous_) != 0) return;
    const bool takes_info = previous_.sa_flags & SA_SIGINFO;
    if (takes_info ? previous_.sa_sigaction == &on_sigint
                   : (previous_.sa_handler == SIG_DFL || previous_.sa_handler == SIG_IGN))
      return;  // not a Python handler: leave SIGINT alone
    chained() = previous_;
    current_flag().store(&stop_);
    struct sigaction ours = previous_;
    ours.sa_sigaction = &on_sigint;
    ours.sa_flags = (previous_.sa_flags | SA_SIGINFO) & ~SA_RESETHAND;
    installed_ = sigaction(SIGINT, &ours, nullptr) == 0;
  }

  // Puts the previous handler back, unless someone replaced ours meanwhile (e.g.
  // faulthandler.register from another thread): theirs stays, and since it may chain to
  // ours, no handler is installed again in this process.
  void restore() {
    if (!installed_) return;
    installed_ = false;
    current_flag().store(nullptr);
    struct sigaction now {};
    if (sigaction(SIGINT, nullptr, &now) == 0 && (now.sa_flags & SA_SIGINFO) &&
        now.sa_sigaction == &on_sigint)
      sigaction(SIGINT, &previous_, nullptr);
    else
      orphaned() = true;
  }

  // Async-signal-safe: a lock-free atomic store, then Python's own handler.
  static void on_sigint(int signum, siginfo_t* info, void* context) {
    if (std::atomic<bool>* flag = current_flag().load()) flag->store(true);
    const struct sigaction& next = chained();
    if (next.sa_flags & SA_SIGINFO)
      next.sa_sigaction(signum, info, context);
    else
      next.sa_handler(signum);
  }
  static std::atomic<std::atomic<bool>*>& current_flag() {
    static std::atomic<std::atomic<bool>*> flag{nullptr};
    return flag;
  }
  static bool& orphaned() {
    static bool value = false;
    return value;
  }
  static struct sigaction& chained() {
    static struct sigaction next {};
    return next;
  }

  std::atomic<bool> stop_{false};
  std::atomic<bool> installing_{false};
  const std::chrono::steady_clock::time_point start_;
  const bool armed_;  // called from the main thread, the only one Python's handler serves
  bool installed_ = false;
  struct sigaction previous_ {};
};

// Runs work(watch) without the GIL, interruptible by Ctrl-C (the lanes of `options`, when
// given, stop by themselves; other work asks watch.requested()), then raises the
// KeyboardInterrupt if there was one. Call with the GIL held.
template <class Work>
void run_interruptibly(SolverOptions* options, Work&& work) {
  InterruptWatch watch(options);
  {
    py::gil_scoped_release release;
    work(watch);
  }
  watch.rethrow_if_interrupted();
}

}  // namespace neuralode::bindings
