#include <sk/ipc/version.hpp>
