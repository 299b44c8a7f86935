# cls_add_stage(<name> SOURCES <files...> [LIBRARY_DIR <dir>])
#
# Builds a stage plugin as a MODULE library named <name>.so with the flags
# every stage needs: hidden visibility (only the entry function is
# exported), position-independent code and no undefined symbols, so a
# stage can never reach into the host.  Also defines <name>_objects, an
# OBJECT library of the same sources, for unit tests against the fake
# host.
function(cls_add_stage name)
    cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
    add_library(${name}_objects OBJECT ${ARG_SOURCES})
    target_link_libraries(${name}_objects PUBLIC classify_sdk)
    set_target_properties(${name}_objects PROPERTIES
        C_VISIBILITY_PRESET hidden POSITION_INDEPENDENT_CODE ON)

    add_library(${name} MODULE $<TARGET_OBJECTS:${name}_objects>)
    target_link_libraries(${name} PRIVATE classify_sdk m)
    target_link_options(${name} PRIVATE -Wl,--no-undefined)
    set_target_properties(${name} PROPERTIES PREFIX "" OUTPUT_NAME ${name})
    if(DEFINED CLASSIFY_PLUGIN_OUTPUT_DIR)
        set_target_properties(${name} PROPERTIES
            LIBRARY_OUTPUT_DIRECTORY ${CLASSIFY_PLUGIN_OUTPUT_DIR})
    endif()
endfunction()
