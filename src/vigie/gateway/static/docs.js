// Starts Swagger UI on the page's element; no inline script, so the page's CSP can forbid
// every script but this origin's files. Nothing is fetched from elsewhere: the validator
// badge (which would call swagger.io) is off.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
