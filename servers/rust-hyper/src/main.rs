// A static-page server on hyper 0.14 and a one-thread tokio runtime, standing
// for the Rust web stacks (Axum is built on hyper and tokio): every request
// for / or /index.html gets the page read at start, keep-alive on.
//   alloclab-rust-server PORT DOCROOT
use std::convert::Infallible;
use std::net::SocketAddr;

use hyper::service::{make_service_fn, service_fn};
use hyper::{header, Body, Request, Response, Server, StatusCode};

fn respond(req: &Request<Body>, page: &hyper::body::Bytes) -> Response<Body> {
    let path = req.uri().path();
    if path == "/" || path == "/index.html" {
        Response::builder()
            .header(header::CONTENT_TYPE, "text/html")
            .header(header::CONTENT_LENGTH, page.len())
            .body(Body::from(page.clone()))
            .expect("a valid response")
    } else {
        Response::builder()
            .status(StatusCode::NOT_FOUND)
            .header(header::CONTENT_LENGTH, 0)
            .body(Body::empty())
            .expect("a valid response")
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: alloclab-rust-server PORT DOCROOT");
        std::process::exit(2);
    }
    let port: u16 = args[1].parse().unwrap_or_else(|_| {
        eprintln!("alloclab-rust-server: bad port {}", args[1]);
        std::process::exit(2);
    });
    let page = match std::fs::read(format!("{}/index.html", args[2])) {
        Ok(bytes) => hyper::body::Bytes::from(bytes),
        Err(e) => {
            eprintln!("alloclab-rust-server: {}/index.html: {}", args[2], e);
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let make = make_service_fn(move |_| {
            let page = page.clone();
            async move {
                Ok::<_, Infallible>(service_fn(move |req: Request<Body>| {
                    let response = respond(&req, &page);
                    async move { Ok::<_, Infallible>(response) }
                }))
            }
        });
        let server = match Server::try_bind(&addr) {
            Ok(builder) => builder.http1_keepalive(true).serve(make),
            Err(e) => {
                eprintln!("alloclab-rust-server: cannot listen on {}: {}", addr, e);
                std::process::exit(71);
            }
        };
        if let Err(e) = server.await {
            eprintln!("alloclab-rust-server: {}", e);
            std::process::exit(1);
        }
    });
}
