# classify_add_builtin_stage(<name> SOURCES <files...>)
#
# Builds one of the six built-in stages with cls_add_stage(), compiling the
# shared helpers of plugins/common into it (plugins share code only this
# way, never through a library they would load), and copies the stage's
# prompts/ folder next to the built plugin as prompts/<name>/, where the
# stage's default prompt_dir option finds them; installs both under
# <libdir>/classify/plugins.
set(CLASSIFY_STAGES_COMMON_DIR ${CMAKE_CURRENT_LIST_DIR})

function(classify_add_builtin_stage name)
    cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
    set(common ${CLASSIFY_STAGES_COMMON_DIR})
    cls_add_stage(${name} SOURCES ${ARG_SOURCES}
        ${common}/text.c ${common}/vocab.c ${common}/catalog.c
        ${common}/stagekit.c ${common}/view.c)
    target_include_directories(${name}_objects PRIVATE
        ${common} ${CMAKE_CURRENT_SOURCE_DIR})
    target_compile_definitions(${name}_objects PRIVATE
        CLS_STAGE_BUILD_ID="${PROJECT_VERSION}")

    set(out_dir ${CMAKE_CURRENT_BINARY_DIR})
    if(DEFINED CLASSIFY_PLUGIN_OUTPUT_DIR)
        set(out_dir ${CLASSIFY_PLUGIN_OUTPUT_DIR})
    endif()
    file(GLOB prompt_files CONFIGURE_DEPENDS
         ${CMAKE_CURRENT_SOURCE_DIR}/prompts/*)
    foreach(prompt IN LISTS prompt_files)
        get_filename_component(prompt_name ${prompt} NAME)
        configure_file(${prompt} ${out_dir}/prompts/${name}/${prompt_name}
                       COPYONLY)
    endforeach()

    # Installed the same way: the plugin and prompts/<name>/ beside it.
    set(plugin_install_dir ${CMAKE_INSTALL_LIBDIR}/classify/plugins)
    install(TARGETS ${name} LIBRARY DESTINATION ${plugin_install_dir})
    install(FILES ${prompt_files}
            DESTINATION ${plugin_install_dir}/prompts/${name})
endfunction()
