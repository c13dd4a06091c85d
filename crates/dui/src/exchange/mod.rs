//! The calls to national services: the SOAP transport with the structure's certificate and its
//! circuit breaker ([`soap_client`]), and the services' clients on top of it ([`insi`]). The
//! formats are `dui-exchange`'s; the decisions, the use cases'.

pub mod insi;
pub mod soap_client;
