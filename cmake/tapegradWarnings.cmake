# Flags for tapegrad's own targets (never forced on consumers).
#
# Sanitizers apply to everything built in the tree, so every object and the final link agree.
if(TAPEGRAD_SANITIZE)
  add_compile_options(-fsanitize=${TAPEGRAD_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${TAPEGRAD_SANITIZE})
endif()

# tapegrad_setup_target(<target>): warnings and CPU tuning for one of tapegrad's targets.
function(tapegrad_setup_target target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
  if(TAPEGRAD_NATIVE)
    target_compile_options(${target} PRIVATE -march=native)
  endif()
endfunction()
