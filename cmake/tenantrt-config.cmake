# find_package(tenantrt) for services that embed the runtime.
include(CMakeFindDependencyMacro)
list(APPEND CMAKE_MODULE_PATH "${CMAKE_CURRENT_LIST_DIR}")
find_dependency(CAF 0.17)
find_dependency(mongoc-1.0 1.23)
find_dependency(spdlog)
find_dependency(nlohmann_json)
find_dependency(Threads)
include("${CMAKE_CURRENT_LIST_DIR}/tenantrt-targets.cmake")
