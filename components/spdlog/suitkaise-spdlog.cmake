# Installed beside suitkaiseConfig.cmake; included by it for
# find_package(suitkaise COMPONENTS spdlog): defines suitkaise::spdlog.
find_package(spdlog 1.10 QUIET CONFIG)
if(spdlog_FOUND)
  include("${CMAKE_CURRENT_LIST_DIR}/suitkaise-spdlog-targets.cmake")
  set(suitkaise_spdlog_FOUND TRUE)
else()
  set(suitkaise_spdlog_FOUND FALSE)
  set(suitkaise_NOT_FOUND_MESSAGE "suitkaise::spdlog needs spdlog >= 1.10 (Debian: libspdlog-dev), which was not found")
endif()
