#pragma once
// dL/dθ of a batch, summed over its samples without holding a row of P values per sample:
// a sample's dL/dθ lives in a row of its own while the sample runs, and rows are added to
// the total in order of sample as soon as those before them are, then reused. The order of
// the sum, and so its bits, does not depend on the threads or on which lanes ran what; the
// rows held at once are about the samples in flight. (A (B, P) array cost a page fault per
// 4 KiB on every pullback: 30% of the W7 adjoint's time, and 336 MB at B = 512.)
#include <algorithm>
#include <cstdint>
#include <mutex>
#include <vector>

namespace neuralode {

template <class Real>
class ThetaSum {
 public:
  // total: P values, zeroed here, the sum in double; finite: B flags, whether each sample's
  // dL/dθ was finite.
  ThetaSum(long samples, long params, double* total, std::uint8_t* finite)
      : params_(params), total_(total), finite_(finite),
        row_of_(static_cast<size_t>(samples), nullptr), ready_(static_cast<size_t>(samples), 0) {
    std::fill_n(total, params, 0.0);
  }

  // A row for the sample's dL/dθ, its own until done(sample), zeroed unless the caller
  // writes all of it (`zeroed` false). Thread-safe.
  Real* take(long sample, bool zeroed = true) {
    Real* row;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (free_.empty()) {
        rows_.emplace_back(static_cast<size_t>(params_));
        row = rows_.back().data();  // stays where it is when rows_ grows
      } else {
        row = free_.back();
        free_.pop_back();
      }
      row_of_[sample] = row;
    }
    if (zeroed) std::fill_n(row, params_, Real(0));
    return row;
  }

  // The sample's row is final. Thread-safe.
  void done(long sample) {
    std::lock_guard<std::mutex> lock(mutex_);
    ready_[sample] = 1;
    for (; next_ < static_cast<long>(ready_.size()) && ready_[next_]; ++next_) {
      Real* row = row_of_[next_];
      // NaN where any entry is NaN or inf, else exactly 0: eight sums side by side, so the
      // loop runs in vectors (one chain of scalar additions was a tenth of the W7 adjoint's
      // integration loop).
      double check[8] = {};
      long p = 0;
      for (; p + 8 <= params_; p += 8)
        for (int q = 0; q < 8; ++q) {
          const double value = static_cast<double>(row[p + q]);
          total_[p + q] += value;
          check[q] += value - value;
        }
      for (; p < params_; ++p) {
        const double value = static_cast<double>(row[p]);
        total_[p] += value;
        check[0] += value - value;
      }
      for (int q = 1; q < 8; ++q) check[0] += check[q];
      finite_[next_] = check[0] == 0;
      free_.push_back(row);
      row_of_[next_] = nullptr;
    }
  }

 private:
  long params_;
  double* total_;
  std::uint8_t* finite_;
  std::mutex mutex_;
  std::vector<std::vector<Real>> rows_;
  std::vector<Real*> free_, row_of_;
  std::vector<std::uint8_t> ready_;
  long next_ = 0;
};

}  // namespace neuralode
