// A Java HTTPS client for the export tests: its identity and trust come ONLY from the standard
// javax.net.ssl.keyStore / javax.net.ssl.trustStore system properties (uca's pkcs12 and
// java-truststore exports). Prints "status CODE" and the response body.
// Usage: java -Djavax.net.ssl.keyStore=... -Djavax.net.ssl.trustStore=... MtlsClient URL

import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import javax.net.ssl.HttpsURLConnection;

public class MtlsClient {
    public static void main(String[] args) throws Exception {
        HttpsURLConnection conn = (HttpsURLConnection) new URL(args[0]).openConnection();
        conn.setConnectTimeout(10000);
        conn.setReadTimeout(10000);
        int code = conn.getResponseCode();
        System.out.println("status " + code);
        System.out.println("cipher " + conn.getCipherSuite());
        InputStream body = code < 400 ? conn.getInputStream() : conn.getErrorStream();
        if (body != null) {
            System.out.println(new String(body.readAllBytes(), StandardCharsets.UTF_8));
        }
    }
}
