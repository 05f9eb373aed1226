# libcio-ws: WebSockets client and server (cio's own framing, zlib for
# permessage-deflate, OpenSSL for the handshake hash and masks); the server
# side upgrades requests of libcio-http's server.
find_package(ZLIB)
if(CIO_HAVE_HTTP AND CIO_HAVE_TLS AND ZLIB_FOUND)
  set(CIO_HAVE_WS ON)
  set(CIO_WS_SOURCES src/ws/conn.c src/ws/recv.c src/ws/frame.c src/ws/send.c
                     src/ws/handshake.c src/ws/deflate.c src/ws/utf8.c)
  add_library(cio_ws_objects OBJECT ${CIO_WS_SOURCES})
  target_include_directories(cio_ws_objects PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>)
  target_link_libraries(cio_ws_objects PUBLIC PkgConfig::JANSSON)
  target_link_libraries(cio_ws_objects PRIVATE OpenSSL::Crypto ZLIB::ZLIB)
  target_compile_definitions(cio_ws_objects PRIVATE CIO_BUILDING _GNU_SOURCE)
  target_compile_options(cio_ws_objects PRIVATE ${CIO_WARNINGS})
  set_target_properties(cio_ws_objects PROPERTIES POSITION_INDEPENDENT_CODE ON
                                                  C_VISIBILITY_PRESET hidden)
  add_library(cio_ws_static STATIC $<TARGET_OBJECTS:cio_ws_objects>)
  add_library(cio_ws_shared SHARED $<TARGET_OBJECTS:cio_ws_objects>)
  foreach(t cio_ws_static cio_ws_shared)
    set_target_properties(${t} PROPERTIES OUTPUT_NAME cio-ws)
    target_include_directories(${t} PUBLIC
      $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
    target_link_libraries(${t} PRIVATE ZLIB::ZLIB OpenSSL::Crypto)
  endforeach()
  target_link_libraries(cio_ws_static PUBLIC cio_http_static)
  target_link_libraries(cio_ws_shared PUBLIC cio_http_shared)
  set_target_properties(cio_ws_shared PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION 0)
  install(TARGETS cio_ws_static cio_ws_shared
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  configure_file(cmake/cio-ws.pc.in ${CMAKE_CURRENT_BINARY_DIR}/cio-ws.pc @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/cio-ws.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
  message(STATUS "cio: libcio-ws enabled")
else()
  message(STATUS "cio: libcio-http, OpenSSL or zlib missing; libcio-ws not built")
endif()
