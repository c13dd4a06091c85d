//! The formats of the exchanges with national services, built and parsed here without business
//! rules — which identity may be sent, what an answer changes in the record, is the use cases'
//! decision — and without I/O or clock: the caller gives the time and the ids, and carries the
//! bytes.
//!
//! * [`xml`]: reading a document into a small tree, refusing DTDs and entities (nothing is
//!   fetched or expanded).
//! * [`soap`]: SOAP 1.2 envelopes, their headers, body and faults.
//! * [`bdpm`]: the text files of the national public drug database (specialities, presentations,
//!   compositions).
//! * [`insi`]: the INSi teleservice: INS retrieval by identity traits.

pub mod bdpm;
pub mod insi;
pub mod soap;
pub mod xml;

pub use soap::SoapError;
pub use xml::FormatError;
