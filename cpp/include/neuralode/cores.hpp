#pragma once
// The cores this process may run on: the CPUs of its affinity mask, and no more than its
// cgroup's CPU quota allows (a container limited to 2 CPUs on a 64-core host sees 64 CPUs in
// its mask, and threads beyond 2 only wait for their turn).
#include <sched.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace neuralode {
namespace detail {

// CPUs in this thread's affinity mask (a mask wider than cpu_set_t reads as 1 CPU less
// than it has: never more than it has).
inline long affinity_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

// floor(quota / period), at least 1, from a cgroup directory, or 0 where it sets no limit (a
// thread beyond the quota gets the whole group throttled for the rest of each period). cgroup
// v2 writes "max 100000" or "150000 100000" in cpu.max; v1 writes the two numbers in two
// files (-1: none).
inline long cgroup_dir_limit(const std::string& dir) {
  double quota = -1, period = 0;
  std::ifstream v2(dir + "/cpu.max");
  if (v2) {
    std::string q;
    v2 >> q >> period;
    if (q != "max") quota = std::atof(q.c_str());
  } else {
    std::ifstream q(dir + "/cpu.cfs_quota_us"), p(dir + "/cpu.cfs_period_us");
    if (!(q >> quota) || !(p >> period)) return 0;
  }
  if (quota <= 0 || period <= 0) return 0;
  return std::max(1L, static_cast<long>(std::floor(quota / period)));
}

// The lowest CPU limit of this process's cgroup and its ancestors (as /proc/self/cgroup
// names them under the usual mount points), or 0 where none sets one.
inline long cgroup_cores() {
  std::vector<std::string> dirs;
  std::ifstream self("/proc/self/cgroup");
  for (std::string line; std::getline(self, line);) {
    const size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = "," + line.substr(first + 1, second - first - 1) + ",";
    std::string path = line.substr(second + 1);
    std::vector<std::string> mounts;
    if (line.compare(0, first, "0") == 0 && controllers == ",,")
      mounts = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
    else if (controllers.find(",cpu,") != std::string::npos)
      mounts = {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"};
    for (const std::string& mount : mounts) {
      for (std::string p = path;; p = p.substr(0, p.rfind('/'))) {  // the path, then up
        dirs.push_back(mount + (p == "/" ? "" : p));
        if (p.empty() || p == "/") break;
      }
    }
  }
  long limit = 0;
  for (const std::string& dir : dirs) {
    const long l = cgroup_dir_limit(dir);
    if (l > 0 && (limit == 0 || l < limit)) limit = l;
  }
  return limit;
}

}  // namespace detail

// The cores this process may use now: its affinity mask, capped by its cgroup's quota. The
// affinity is asked each time (a syscall, ~0.2 us: call it only where threads are in
// question); the quota is read once (files; it seldom changes under a running process).
inline int usable_cores() {
  static const long quota = detail::cgroup_cores();
  const long cores = detail::affinity_cores();
  return static_cast<int>(quota > 0 ? std::min(cores, quota) : cores);
}

}  // namespace neuralode
