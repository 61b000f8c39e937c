# One floor per folder, enforced: config < runtime < actors < tools.
# tenantrt_floor(<target> <folder>...) gives <target> an include root that
# holds only the folders named (its own and the floors below, as symlinks),
# so `#include "actors/..."` from runtime/ fails to compile: there is no such
# path on runtime's include path. Headers are included as "<folder>/<file>".
function(tenantrt_floor target)
  set(root ${PROJECT_BINARY_DIR}/floors/${target})
  file(MAKE_DIRECTORY ${root})
  foreach(folder IN LISTS ARGN)
    if(NOT EXISTS ${root}/${folder})
      file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${folder} ${root}/${folder} SYMBOLIC)
    endif()
  endforeach()
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${root}>
    $<INSTALL_INTERFACE:include/tenantrt>)
endfunction()
