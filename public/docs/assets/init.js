// Starts Swagger UI on this API's own OpenAPI document. "Try it out" calls the
// server that served this page, listed first, whatever the document's servers
// say (they name the local dev server and how to address a deployment).
fetch("/openapi.json")
  .then((res) => res.json())
  .then((spec) => {
    const here = { url: location.origin, description: "This server" };
    spec.servers = [here, ...(spec.servers ?? []).filter((s) => s.url !== here.url)];
    window.ui = SwaggerUIBundle({
      spec,
      dom_id: "#swagger-ui",
      deepLinking: true,
      persistAuthorization: true,
      displayRequestDuration: true,
    });
  });
