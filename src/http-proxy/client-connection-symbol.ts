// The symbol under which a client socket carries its ClientConnection.
export const kConn = Symbol("client-connection");
