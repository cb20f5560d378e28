// sk::Path: a path sent to another process resolves against that process's
// project root (docs/paths.md).
#include <sk/sk.hpp>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace fs = std::filesystem;

int main() {
  const fs::path here = fs::temp_directory_path() / ("sk_paths_example_" + std::to_string(getpid()));
  fs::create_directories(here / "caller" / "data");
  fs::create_directories(here / "worker");

  sk::CustomRoot root(here / "caller");  // or a setup.sk file, or SK_PROJECT_ROOT
  const sk::Path csv(here / "caller" / "data" / "in.csv");
  std::printf("ap %s\nrp %s\nid %s\n", csv.str().c_str(), csv.rp().c_str(), csv.id().c_str());
  if (sk::Path::from_id(csv.id()) != csv) return 1;

  // Each worker has another root; the Path it returns arrives as "out/<i>.bin"
  // and resolves under the caller's root.
  sk::Pool pool(2);
  const fs::path worker_root = here / "worker";
  const std::vector<sk::Path> outs = pool.map(
      [worker_root](int i) {
        sk::CustomRoot mine(worker_root);
        return sk::Path(worker_root / "out" / (std::to_string(i) + ".bin"));
      },
      std::vector<int>{1, 2});
  for (const sk::Path& p : outs) std::printf("result %s\n", p.str().c_str());

  const bool ok = outs.size() == 2 && outs[0].ap() == fs::canonical(here) / "caller" / "out" / "1.bin";
  fs::remove_all(here);
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
