// docs/pipe.md, a pipe end handed to a forked child: the block runs in main();
// worker() is the reader's.
#include <sys/types.h>
#include <unistd.h>

#include <sk/pipe.hpp>

void worker(auto& end) { (void)end; }

int main() {
// @BLOCK@
}
