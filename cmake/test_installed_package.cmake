# The CTest test ember_installed_package: install ember (the component
# ember_development) into PREFIX, then configure, build and run the consumer project
# examples/cpp_consumer against it with find_package(ember), as a user would.
#
#   cmake -DEMBER_BUILD=... -DCONSUMER_SOURCE=... -DWORK=... -DCXX=... [-DMODEL_FILE=...]
#         -P test_installed_package.cmake
foreach(var EMBER_BUILD CONSUMER_SOURCE WORK CXX)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "test_installed_package.cmake: -D${var}=... is required")
  endif()
endforeach()

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}): ${ARGN}")
  endif()
endfunction()

set(prefix "${WORK}/prefix")
file(REMOVE_RECURSE "${WORK}")  # nothing left from an earlier run may satisfy find_package
run("install" "${CMAKE_COMMAND}" --install "${EMBER_BUILD}" --prefix "${prefix}"
    --component ember_development)
foreach(f include/ember/ember.h include/ember/model.h)
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "the install has no ${f}")
  endif()
endforeach()
run("configure the consumer" "${CMAKE_COMMAND}" -S "${CONSUMER_SOURCE}" -B "${WORK}/consumer"
    -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_COMPILER=${CXX}" "-DCMAKE_PREFIX_PATH=${prefix}")
run("build the consumer" "${CMAKE_COMMAND}" --build "${WORK}/consumer")
run("run the consumer" "${WORK}/consumer/ember_consumer")
if(DEFINED MODEL_FILE)  # load_model through the package: HDF5 and libzip found transitively
  run("predict from a saved model" "${WORK}/consumer/ember_predict" "${MODEL_FILE}")
endif()
