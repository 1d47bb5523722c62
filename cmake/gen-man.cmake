# cmake -DPLENA=<binary> -DHELP2MAN=<help2man> -DOUT=<plena.1> -P gen-man.cmake
# The man page is help2man over `plena --help`, plus a COMMANDS section holding each
# subcommand's own --help (nested subcommands included), so it cannot drift from the CLI.
function(plena_subcommands help out_var)
  # CLI11 lists them under "Subcommands:", one "  name   description" line each.
  string(REGEX MATCH "\nSubcommands:\n.*" section "${help}")
  string(REGEX MATCHALL "\n  [a-z][a-z0-9-]*" names "${section}")
  list(TRANSFORM names REPLACE "\n  " "")
  set(${out_var} ${names} PARENT_SCOPE)
endfunction()

function(plena_command_help path out_text)
  execute_process(COMMAND ${PLENA} ${path} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "plena ${path} --help failed (${rc})")
  endif()
  string(JOIN " " shown ${path})
  set(text "${${out_text}}\n.SS \"plena ${shown}\"\n.nf\n${help}\n.fi\n")
  plena_subcommands("${help}" subs)
  foreach(sub IN LISTS subs)
    plena_command_help("${path};${sub}" text)
  endforeach()
  set(${out_text} "${text}" PARENT_SCOPE)
endfunction()

execute_process(COMMAND ${PLENA} --help OUTPUT_VARIABLE top RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "plena --help failed (${rc})")
endif()
plena_subcommands("${top}" commands)
set(include_text "[COMMANDS]\nEach command's options (plena COMMAND --help).\n")
foreach(cmd IN LISTS commands)
  plena_command_help("${cmd}" include_text)
endforeach()
string(APPEND include_text "\n[SEE ALSO]\nThe documentation under docs/ in the plena-cpp sources (docs/cli.md, docs/python.md).\n")
get_filename_component(dir "${OUT}" DIRECTORY)
file(MAKE_DIRECTORY "${dir}")
file(WRITE "${OUT}.include" "${include_text}")
# "plena-cpp X.Y.Z" -> the page is named after the command, plena.
execute_process(COMMAND ${PLENA} --version OUTPUT_VARIABLE version_line OUTPUT_STRIP_TRAILING_WHITESPACE)
string(REGEX REPLACE ".* " "" version "${version_line}")
execute_process(COMMAND ${HELP2MAN} --no-info --version-string "plena ${version}" --section 1 --name "PLENA accelerator toolchain"
                        --include "${OUT}.include" --output "${OUT}" ${PLENA}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "help2man failed (${rc})")
endif()
