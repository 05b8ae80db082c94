# Finds the BLAS ember links and defines the imported target ember::blas for it.
# Included twice: by the build (CMakeLists.txt) and by the installed package
# (emberConfig.cmake), so that a program linking ember::ember finds the same BLAS
# the library was built against without knowing where it came from.
#
# Sources, in order:
# - scipy-openblas32 (what the Python build uses): EMBER_OPENBLAS_LIB when it names a
#   file (the installed package records the build's), else asked of Python's
#   `scipy_openblas32` module;
# - the system's OpenBLAS through find_package(BLAS) (BLA_VENDOR OpenBLAS).
# EMBER_BLAS_SOURCE says which ("scipy-openblas32" or "system"); preset it to insist.
# Sets EMBER_OPENBLAS_INCLUDE (scipy-openblas32 only; cached) for the build's own use.
if(TARGET ember::blas)
  return()
endif()

if(NOT EMBER_BLAS_SOURCE OR EMBER_BLAS_SOURCE STREQUAL "scipy-openblas32")
  # The build needs the headers too; the installed package only the library.
  if(NOT (EMBER_OPENBLAS_LIB AND EXISTS "${EMBER_OPENBLAS_LIB}")
     OR (NOT CMAKE_FIND_PACKAGE_NAME STREQUAL "ember" AND NOT EMBER_OPENBLAS_INCLUDE))
    unset(EMBER_OPENBLAS_LIB CACHE)
    find_package(Python 3.9 COMPONENTS Interpreter QUIET)
    if(Python_Interpreter_FOUND)
      execute_process(
        COMMAND "${Python_EXECUTABLE}" -c
                "import scipy_openblas32 as s; print(s.get_include_dir()); print(s.get_lib_dir())"
        OUTPUT_VARIABLE _ember_sob RESULT_VARIABLE _ember_sob_rc
        OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
      if(_ember_sob_rc EQUAL 0)
        string(REPLACE "\n" ";" _ember_sob "${_ember_sob}")
        list(GET _ember_sob 0 _ember_sob_include)
        set(EMBER_OPENBLAS_INCLUDE "${_ember_sob_include}" CACHE PATH "scipy-openblas32's headers")
        list(GET _ember_sob 1 _ember_sob_libdir)
        find_library(EMBER_OPENBLAS_LIB NAMES scipy_openblas PATHS "${_ember_sob_libdir}"
                     NO_DEFAULT_PATH)
      endif()
    endif()
  endif()
  if(EMBER_OPENBLAS_LIB AND EXISTS "${EMBER_OPENBLAS_LIB}")
    set(EMBER_BLAS_SOURCE "scipy-openblas32")
    add_library(ember::blas UNKNOWN IMPORTED)
    set_target_properties(ember::blas PROPERTIES IMPORTED_LOCATION "${EMBER_OPENBLAS_LIB}")
  elseif(EMBER_BLAS_SOURCE STREQUAL "scipy-openblas32")
    set(_ember_blas_error
        "ember was built against scipy-openblas32, which is neither at '${EMBER_OPENBLAS_LIB}' "
        "nor importable by Python (pip install scipy-openblas32, or set EMBER_OPENBLAS_LIB)")
    if(CMAKE_FIND_PACKAGE_NAME STREQUAL "ember")  # inside find_package(ember): fail it cleanly
      string(CONCAT ember_NOT_FOUND_MESSAGE ${_ember_blas_error})
      set(ember_FOUND FALSE)
      return()
    endif()
    message(FATAL_ERROR ${_ember_blas_error})
  endif()
endif()

if(NOT TARGET ember::blas)
  set(BLA_VENDOR OpenBLAS)
  if(CMAKE_FIND_PACKAGE_NAME STREQUAL "ember")
    include(CMakeFindDependencyMacro)
    find_dependency(BLAS)
  else()
    find_package(BLAS REQUIRED)
  endif()
  set(EMBER_BLAS_SOURCE "system")
  add_library(ember::blas INTERFACE IMPORTED)
  set_target_properties(ember::blas PROPERTIES INTERFACE_LINK_LIBRARIES BLAS::BLAS)
endif()
